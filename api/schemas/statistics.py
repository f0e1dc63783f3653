"""Schemas of the statistics of paper saved: the query parameters that select applications and
the figures per matter, handling department and month, per month and in total."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from exchange.applications.statistics import MONTH_PATTERN, Month

_CODE = ma.validate.Length(min=1, max=64)


class MonthField(ma.fields.String):
    """A month `YYYY-MM` (Beijing time), read as a `Month`."""

    default_error_messages = {"invalid_month": "must be a month YYYY-MM from 1900-01 to 2999-12, e.g. 2026-11"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"pattern": MONTH_PATTERN, "example": "2026-11", **kwargs.pop("metadata", {})},
                         **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Month:
        try:
            return Month.parse(super()._deserialize(value, attr, data, **kwargs))
        except ValueError:
            raise self.make_error("invalid_month") from None


class StatisticsQuerySchema(ma.Schema):
    matter = ma.fields.String(validate=_CODE, metadata={"description": "Only this matter (a catalog matter code)"})
    department = ma.fields.String(validate=_CODE,
                                  metadata={"description": "Only applications handled by this department (its code)"})
    from_month = MonthField(data_key="from", metadata={"description": "Filed in this month (Beijing time) or later"})
    to_month = MonthField(data_key="to", metadata={"description": "Filed in this month (Beijing time) or earlier"})

    @ma.validates_schema
    def _in_order(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "from_month" in data and "to_month" in data and data["to_month"] < data["from_month"]:
            raise ma.ValidationError("must not be before from", field_name="to")


class FiguresSchema(ma.Schema):
    applications_filed = ma.fields.Integer()
    applications_decided = ma.fields.Integer(metadata={"description": "Of the applications filed, those decided"})
    proofs_required = ma.fields.Integer(metadata={"description": "Proof items (one per proof per party) the "
                                                                 "applications required (not `not_required`)"})
    saved_by_data = ma.fields.Integer(metadata={"description": "Settled from the source's data (resolved, or a true "
                                                               "no-record answer) in data_sharing or online_issue"})
    saved_by_e_license = ma.fields.Integer(metadata={"description": "Settled from the source's data in e_license"})
    saved_by_commitment = ma.fields.Integer(metadata={"description": "Replaced by the applicant's signed commitment"})
    saved_by_abolition = ma.fields.Integer(metadata={"description": "Abolished for the matter"})
    saved_by_investigation = ma.fields.Integer(metadata={"description": "Handed to a department to investigate"})
    still_needing_paper = ma.fields.Integer(metadata={"description": "Denied, waiting for a source, waiting for a "
                                                                     "commitment or pending: paper or a caseworker"})
    paper_saved = ma.fields.Integer(metadata={"description": "Paper proofs saved: the five saved_by_* together"})
    commitments_false = ma.fields.Integer(metadata={"description": "Commitments 事后核查 found false"})
    median_handling_seconds = ma.fields.Float(allow_none=True,
                                              metadata={"description": "Median of decided_at − created_at of the "
                                                                       "decided applications; null when none"})


class StatisticsRowSchema(FiguresSchema):
    matter = ma.fields.String(metadata={"example": "PUBLIC_RENTAL_HOUSING"})
    matter_name_zh = ma.fields.String()
    department = ma.fields.String(metadata={"description": "The handling (consumer) department", "example": "ZJ"})
    department_name_zh = ma.fields.String()
    month = MonthField(metadata={"description": "Month of filing, Beijing time"})


class MonthFiguresSchema(FiguresSchema):
    month = MonthField(metadata={"description": "Month of filing, Beijing time"})


class MatterFiguresSchema(FiguresSchema):
    matter = ma.fields.String(metadata={"example": "PUBLIC_RENTAL_HOUSING"})
    matter_name_zh = ma.fields.String()


class StatisticsSchema(ma.Schema):
    rows = ma.fields.List(ma.fields.Nested(StatisticsRowSchema),
                          metadata={"description": "Per matter, handling department and month with an application"})
    totals = ma.fields.Nested(FiguresSchema)
    months = ma.fields.List(ma.fields.Nested(MonthFiguresSchema),
                            metadata={"description": "Every month from the first to the last with an application, "
                                                     "none left out: paper saved over time"})
    matters = ma.fields.List(ma.fields.Nested(MatterFiguresSchema),
                             metadata={"description": "The figures added up per matter, in the order the matters "
                                                      "first appear in rows"})
    counted_at = ma.fields.DateTime(metadata={"description": "When the figures were counted (what was committed "
                                                                  "then); counted again about once a minute"})
