"""The statistics of paper saved over HTTP (`GET /api/v1/statistics`), public: aggregate counts
per matter, handling department and month, without personal data. `statistics_view` is also
what the dashboard page (`api.routes.statistics_pages`) shows, so both give the same numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.live_catalog import live_catalog
from api.openapi import Blueprint
from api.routes.catalog_api import known_code
from api.runtime import db
from api.schemas.statistics import StatisticsQuerySchema, StatisticsSchema
from catalog.model import Department, Matter
from exchange.applications.statistics import Selection, paper_statistics

blp = Blueprint("statistics", __name__, url_prefix="/api/v1",
                description="Statistics of paper saved (少交了多少纸质证明), public")


@blp.route("/statistics")
@blp.arguments(StatisticsQuerySchema, location="query")
@blp.response(200, StatisticsSchema)
def statistics(args: dict[str, Any]) -> dict[str, Any]:
    """How many paper proofs the applications did without, per matter, handling department and
    month of filing (Beijing time), per month and in total.

    A required proof is saved when it was settled from data (data sharing or online issue), by
    an e-license, by the applicant's commitment, by abolition or by a department's
    investigation; the rest still need paper or a caseworker. Public: the figures are counts
    over applications, with no personal data.
    """
    return statistics_view(args)


def statistics_view(args: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of the applications `args` select (parsed by `StatisticsQuerySchema`), with
    the Chinese names of matters and departments; unknown codes are a 400 naming the parameter."""
    catalog = live_catalog().catalog
    known_code(catalog.matters, args.get("matter"), "matter")
    known_code(catalog.departments, args.get("department"), "department")
    found = paper_statistics(db(), Selection(matter=args.get("matter"), department=args.get("department"),
                                             from_month=args.get("from_month"), to_month=args.get("to_month")))
    return {
        "rows": [{"matter": row.matter, "matter_name_zh": _name_zh(catalog.matters, row.matter),
                  "department": row.department, "department_name_zh": _name_zh(catalog.departments, row.department),
                  "month": row.month, **row.figures.as_dict()} for row in found.rows],
        "totals": found.totals.as_dict(),
        "months": [{"month": month, **figures.as_dict()} for month, figures in found.months],
    }


def _name_zh(entries: Mapping[str, Matter | Department], code: str) -> str:
    """The Chinese name of a matter or department; its code if the live catalog no longer has it."""
    entry = entries.get(code)
    return entry.name_zh if entry is not None else code
