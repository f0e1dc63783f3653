"""The statistics of paper saved over HTTP (`GET /api/v1/statistics`), public: aggregate counts
per matter, handling department and month, without personal data. `api.presenters.statistics_view`
is also what the dashboard page (`api.routes.statistics_pages`) shows, so both give the same numbers."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.domain_errors import parameter_problem
from api.openapi import COUNTED_AT_HEADER, Blueprint
from api.presenters import counted_headers, counted_statistics, statistics_view
from api.schemas.statistics import StatisticsQuerySchema, StatisticsSchema
from exchange.errors import UnknownCode

blp = Blueprint("statistics", __name__, url_prefix="/api/v1",
                description="Statistics of paper saved (少交了多少纸质证明), public")


@blp.route("/statistics")
@blp.arguments(StatisticsQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, StatisticsSchema, headers={"Last-Modified": COUNTED_AT_HEADER})
def statistics(args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """How many paper proofs the applications did without, per matter, handling department and
    month of filing (Beijing time), per month and in total.

    A required proof is saved when it was settled from data (data sharing or online issue), by
    an e-license, by the applicant's commitment, by abolition or by a department's
    investigation; the rest still need paper or a caseworker. Public: the figures are counts
    over applications, with no personal data. They are those of `counted_at`, at most about two
    minutes old (see the API guide).
    """
    counted = counted_statistics()
    try:
        return statistics_view(counted, args), counted_headers(counted)
    except UnknownCode as unknown:
        raise parameter_problem(unknown) from None
