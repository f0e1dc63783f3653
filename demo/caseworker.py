"""What the demo offers the caseworker page (`api.routes.caseworker_pages`): demo households to
file applications for. `CASEWORKER_DEMO` lists, per matter, the household situations to choose
from; `GET /caseworker/demo-households` (scope applications:write, a staff session or a client
token) serves the households of a situation already shaped as application requests, while the
installation has demo source data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from uuid import uuid4

from flask import Blueprint, Response, jsonify, request

from api.auth import require_client
from api.extensions import CaseworkerDemo
from api.live_catalog import live_catalog
from api.problems import Problem
from api.runtime import runtime
from api.staff_session import acting_caseworker_id
from catalog.citizen_id import mask_id_number
from demo.applications import PUBLIC_RENTAL_HOUSING, public_housing_request
from demo.data import HOUSEHOLD_SITUATIONS, DemoDataMissing, DemoHousehold, demo_households
from exchange.clients import ClientScope

bp = Blueprint("demo_caseworker", __name__, url_prefix="/caseworker")

HOUSEHOLDS_LISTED = 6
MAX_INCOME_CHANGE = Decimal(100_000)


class RequestBuilder(Protocol):
    """The application request of a demo household, its declared per-capita income shaded by the change."""

    def __call__(self, household: DemoHousehold, request_id: str, *, signed_at: datetime,
                 declared_income_change: Decimal, caseworker_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class DemoMatter:
    """A matter the page files for demo households: the situations offered and how a request is built."""

    situations: tuple[str, ...]
    build: RequestBuilder


DEMO_MATTERS: Mapping[str, DemoMatter] = {
    PUBLIC_RENTAL_HOUSING: DemoMatter(tuple(HOUSEHOLD_SITUATIONS), public_housing_request),
}
"""The matters offered on the page, the flagship first; add a matter with its request builder."""

CASEWORKER_DEMO: CaseworkerDemo = {
    code: [(key, HOUSEHOLD_SITUATIONS[key]) for key in matter.situations] for code, matter in DEMO_MATTERS.items()
}


@bp.route("/demo-households")
def households() -> Response:
    """Demo households of a situation, each with its members (ID numbers masked) and the
    application request to file for it; 404 when the installation has no demo data."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    catalog = live_catalog().catalog
    code = request.args.get("matter", PUBLIC_RENTAL_HOUSING)
    demo = DEMO_MATTERS.get(code)
    if demo is None or code not in catalog.matters:
        raise _bad_parameter("matter", f"the page files no demo applications for matter {code!r}")
    situation = request.args.get("situation", "")
    if situation not in demo.situations:
        raise _bad_parameter("situation", f"one of {', '.join(demo.situations)}")
    change = _income_change(request.args.get("declared_income_change", "0"))
    try:
        found = demo_households(runtime().settings.sources_dir, catalog, situation, HOUSEHOLDS_LISTED)
    except DemoDataMissing:
        raise Problem("not-found", "This installation has no demo source data.") from None
    signed_at = datetime.now(timezone.utc).replace(microsecond=0)
    caseworker = acting_caseworker_id(client.client_id)
    response = jsonify([_household_view(household, demo.build(  # a UUID's hyphens: no run of hex digits an
        household, f"cw-{uuid4()}", signed_at=signed_at, declared_income_change=change,  # ID number could be
        caseworker_id=caseworker))
        for household in found])
    response.headers["Cache-Control"] = "no-store"
    return response


def _household_view(household: DemoHousehold, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": household.number, "description": household.description,
        "members": [{"name": member.name, "id_masked": mask_id_number(member.id_number), "age": member.age,
                     "relation": member.relation} for member in household.members],
        "monthly_income_per_person": format(household.monthly_income_per_person, "f"),
        "request": body,
    }


def _income_change(text: str) -> Decimal:
    try:
        change: Decimal | None = Decimal(text)
    except InvalidOperation:
        change = None
    if change is None or not change.is_finite() or abs(change) > MAX_INCOME_CHANGE:
        raise _bad_parameter("declared_income_change",
                             f"a number of yuan between -{MAX_INCOME_CHANGE} and {MAX_INCOME_CHANGE}")
    return change.quantize(Decimal("1.00"))


def _bad_parameter(name: str, detail: str) -> Problem:
    return Problem("invalid-request", f"{name}: {detail}", errors=[{"parameter": name, "detail": detail}])
