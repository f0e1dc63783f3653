"""Application requests for demo households, as a housing bureau's system would send them:
the household from the demo population, the counter authorisation, and the applicant's
commitments filled in truthfully from what the demo departments hold (a caller may shade the
declared income to try 事后核查). The caseworker page, the tests and the benchmark use them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from demo.data import DemoHousehold

PUBLIC_RENTAL_HOUSING = "PUBLIC_RENTAL_HOUSING"
SINGLE_STATUSES = ("unmarried", "divorced", "widowed")


def public_housing_request(household: DemoHousehold, request_id: str, *, signed_at: datetime,
                           declared_income_change: Decimal = Decimal(0), priority_allocation: bool = False,
                           caseworker_id: str = "zj-0042") -> dict[str, Any]:
    """The 公租房 application of `household` (see the module docstring); `declared_income_change`
    is added to the per-capita monthly income the applicant declares (down to zero at most)."""
    head, others = household.members[0], household.members[1:]
    signed = signed_at.isoformat()
    size = len(household.members)
    month_start = signed_at.date().replace(day=1)
    per_capita = max(household.monthly_income_per_person + declared_income_change, Decimal(0)).quantize(Decimal("1.00"))
    commitments: list[dict[str, Any]] = [
        {"proof": "HOUSING_HARDSHIP_REPORT", "values": {
            "current_residence": "金华市婺城区租住房屋", "per_capita_floor_area": "12.50",
            "hardship_description": "家庭在本市无自有住房，现租住私房，租金负担较重。", "signed_at": signed}},
        {"proof": "INCOME", "values": {
            "family_size": size, "annual_household_income": format(per_capita * 12 * size, "f"),
            "per_capita_monthly_income": format(per_capita, "f"),
            "income_period_start": month_start.replace(year=month_start.year - 1).isoformat(),
            "income_period_end": (month_start - timedelta(days=1)).isoformat()}},
        {"proof": "MARITAL_STATUS", "values": {
            "marital_status": head.marital_status, "spouse_id_number": head.spouse_id_number}},
    ]
    if head.marital_status in SINGLE_STATUSES:
        commitments.append({"proof": "SINGLE_DECLARATION", "values": {
            "declared_status": head.marital_status, "signed_at": signed}})
    return {
        "request_id": request_id, "caseworker_id": caseworker_id,
        "case_number": f"GZF-{signed_at:%Y}-{request_id[-12:]}",
        "applicant": {"name": head.name, "id_number": head.id_number, "relation": head.relation},
        "members": [{"name": m.name, "id_number": m.id_number, "relation": m.relation} for m in others],
        "options": {"priority_allocation": priority_allocation},
        "counter_consent": True,
        "commitments": commitments,
        "signature": {"channel": "counter"},
    }
