"""Schemas of the citizen's own endpoints (`/api/v1/me/...`): who used my data, and my consents."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from catalog.schemas import WholeMatch
from exchange.access_log import NOT_ACCESSES, Outcome
from exchange.consent import MAX_CONSENT_DAYS, Channel, ConsentStatus

_CODE = WholeMatch(r"^[A-Z][A-Z0-9_]*$", error="must be an upper-case code such as NO_HOUSING")
MAX_PAGE = 100
MAX_OFFSET = 1_000_000
"""Far past any citizen's log; an offset beyond a 64-bit integer would fail in the database."""


class AsciiInteger(ma.fields.Integer):
    """An integer written in the digits 0-9: Python's int() also reads ５ and ٥, which no client
    means as a page size."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not value.strip().lstrip("+-").isascii():
            raise ma.ValidationError("must be written in the digits 0-9")
        return super()._deserialize(value, attr, data, **kwargs)


class PageQuerySchema(ma.Schema):
    limit = AsciiInteger(load_default=20, validate=ma.validate.Range(1, MAX_PAGE))
    offset = AsciiInteger(load_default=0, validate=ma.validate.Range(0, MAX_OFFSET))
    before_seq = AsciiInteger(validate=ma.validate.Range(1, 2**63 - 1), metadata={
        "description": "Only entries older than this one (the previous page's `next_before_seq`): pages that do not "
                       "shift or repeat while new entries arrive"})


class AccessLogEntrySchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "Sequence number in the tamper-evident access log"})
    time = ma.fields.DateTime()
    consumer_department = ma.fields.String(allow_none=True, metadata={"example": "ZJ"})
    consumer_department_name_zh = ma.fields.String(allow_none=True)
    client_id = ma.fields.String(allow_none=True, metadata={"description": "Public id of the department system"})
    client_name = ma.fields.String(allow_none=True)
    caseworker_id = ma.fields.String(allow_none=True)
    case_number = ma.fields.String(allow_none=True)
    matter = ma.fields.String(allow_none=True)
    matter_name_zh = ma.fields.String(allow_none=True)
    proof = ma.fields.String(allow_none=True)
    proof_name_zh = ma.fields.String(allow_none=True)
    legal_basis = ma.fields.String(allow_none=True, metadata={"description": "Legal basis relied on, if any"})
    consent_id = ma.fields.String(allow_none=True, metadata={"description": "Your consent relied on, if any"})
    basis_zh = ma.fields.String(allow_none=True, metadata={
        "description": "The basis as you read it: 本人网上授权, 窗口书面授权 (signed at a counter, a guardian's for a "
                       "child), else the legal basis"})
    purpose = ma.fields.String(allow_none=True)
    outcome = ma.fields.String(metadata={"enum": [o.value for o in Outcome if o.value not in NOT_ACCESSES]})
    outcome_zh = ma.fields.String(metadata={"description": "已允许调取, 已拒绝, 未完成; 已查询：来源部门无此记录 for "
                                                           "the result of a pull whose source had no record"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "Why denied or failed (a problem type)"})


class AccessLogPageSchema(ma.Schema):
    total = ma.fields.Integer()
    limit = ma.fields.Integer()
    offset = ma.fields.Integer()
    entries = ma.fields.List(ma.fields.Nested(AccessLogEntrySchema), metadata={"description": "Newest first"})
    next_before_seq = ma.fields.Integer(allow_none=True, metadata={
        "description": "`before_seq` for the next page (the last entry's seq); null on the last page"})


class ConsentCreateSchema(ma.Schema):
    matter = ma.fields.String(required=True, validate=_CODE, metadata={"example": "PUBLIC_RENTAL_HOUSING"})
    proofs = ma.fields.List(ma.fields.String(validate=_CODE), required=True,
                            validate=ma.validate.Length(min=1, max=50), metadata={"example": ["NO_HOUSING"]})
    department = ma.fields.String(required=True, validate=_CODE,
                                  metadata={"description": "The consumer department allowed to pull", "example": "ZJ"})
    days = ma.fields.Integer(strict=True, required=True, validate=ma.validate.Range(1, MAX_CONSENT_DAYS),
                             metadata={"description": "How long the consent lasts", "example": 90})


class ReleasedProofSchema(ma.Schema):
    proof = ma.fields.String(attribute="code")
    proof_name_zh = ma.fields.String(attribute="name_zh")
    source_department_name_zh = ma.fields.String(attribute="source_department_zh")
    items_zh = ma.fields.List(ma.fields.String(), metadata={"description": "The data items released, nothing else"})


class ConsentPreviewSchema(ma.Schema):
    matter = ma.fields.String(attribute="request.matter")
    matter_name_zh = ma.fields.String()
    legal_basis_zh = ma.fields.String()
    department = ma.fields.String(attribute="request.consumer_department")
    department_name_zh = ma.fields.String()
    days = ma.fields.Integer(attribute="request.days")
    proofs = ma.fields.List(ma.fields.Nested(ReleasedProofSchema))


class ConsentSchema(ma.Schema):
    id = ma.fields.String()
    matter = ma.fields.String()
    matter_name_zh = ma.fields.String(allow_none=True)
    proofs = ma.fields.List(ma.fields.String())
    proof_names_zh = ma.fields.List(ma.fields.String())
    department = ma.fields.String()
    department_name_zh = ma.fields.String(allow_none=True)
    channel = ma.fields.String(metadata={"enum": [c.value for c in Channel]})
    granted_at = ma.fields.DateTime()
    expires_at = ma.fields.DateTime()
    withdrawn_at = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String(metadata={"enum": [s.value for s in ConsentStatus]})
    ends_with_application = ma.fields.Boolean(metadata={
        "description": "Recorded at a counter for one application: it ends when the application is done "
                       "(decided or withdrawn, no commitment left to check), so `expires_at` is then that moment"})
