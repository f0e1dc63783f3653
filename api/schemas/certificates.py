"""Schemas of e-certificates: issuance requests, certificate summaries, revocation and verdicts."""

from __future__ import annotations

import marshmallow as ma

from catalog.schemas import WholeMatch
from catalog.citizen_id import parse_id_number
from catalog.errors import InvalidIdentifier
from exchange.certificates.status_list import REVOCATION_REASONS

def citizen_id_number(text: str) -> None:
    """Validate a GB 11643 citizen ID number (a malformed one is a 400 naming the field)."""
    try:
        parse_id_number(text)
    except InvalidIdentifier as error:
        raise ma.ValidationError(str(error)) from None


_CODE = WholeMatch(r"^[A-Z][A-Z0-9_]*$", error="must be an upper-case code such as NO_HOUSING")


class IssueRequestSchema(ma.Schema):
    proof = ma.fields.String(required=True, validate=_CODE, metadata={"example": "NO_HOUSING"})
    purpose = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100),
                               metadata={"example": "申请公租房"})


class CertificateLinksSchema(ma.Schema):
    pdf = ma.fields.String(metadata={"description": "The sealed PDF"})
    jws = ma.fields.String(metadata={"description": "The signed credential (JWS)"})
    qr = ma.fields.String(metadata={"description": "The offline QR payload (MZ2:...)"})


class CertificateSummarySchema(ma.Schema):
    identifier = ma.fields.String(metadata={"description": "GB/T 36904-style identifier"})
    proof = ma.fields.String()
    proof_name_zh = ma.fields.String()
    issuer = ma.fields.String()
    issuer_name_zh = ma.fields.String()
    purpose = ma.fields.String()
    issued_at = ma.fields.DateTime()
    valid_until = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String(metadata={
        "enum": ["valid", "revoked", "seal_revoked"],
        "description": "`revoked`: revoked by its issuer; `seal_revoked`: sealed with a seal since revoked for key "
                       "compromise, so every verifier calls it invalid (issue it again)"})
    revoked_at = ma.fields.DateTime(allow_none=True)
    revocation_reason = ma.fields.String(allow_none=True)
    links = ma.fields.Nested(CertificateLinksSchema)


class IssuableProofSchema(ma.Schema):
    code = ma.fields.String()
    name_zh = ma.fields.String()
    department = ma.fields.String()
    department_name_zh = ma.fields.String()
    online_issue = ma.fields.Boolean(metadata={"description": "The catalog's mode for the proof is 网上开具"})


class RevocationSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(list(REVOCATION_REASONS)))


class VerifyRequestSchema(ma.Schema):
    """Exactly one form of the certificate, and optionally the holder's ID number."""

    credential = ma.fields.String(validate=ma.validate.Length(min=1, max=200_000))
    qr = ma.fields.String(validate=ma.validate.Length(min=1, max=10_000))
    pdf_base64 = ma.fields.String(validate=ma.validate.Length(min=1, max=2_000_000))
    id_number = ma.fields.String(validate=citizen_id_number,
                                 metadata={"description": "Check that the certificate is this person's "
                                                          "(a GB 11643 ID number; a malformed one is a 400)"})

    @ma.validates_schema
    def _one_form(self, data: dict, **_kwargs: object) -> None:
        if sum(form in data for form in ("credential", "qr", "pdf_base64")) != 1:
            raise ma.ValidationError("give exactly one of credential, qr and pdf_base64", "_schema")


class CheckSchema(ma.Schema):
    check = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["VALID", "INVALID", "SKIPPED", "ERROR"]})
    code = ma.fields.String()
    message_zh = ma.fields.String()
    message_en = ma.fields.String()


class VerdictSchema(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["VALID", "INVALID", "ERROR"]})
    form = ma.fields.String(metadata={"enum": ["pdf", "credential", "qr", "unknown"]})
    checks = ma.fields.List(ma.fields.Nested(CheckSchema))
    revocation_reason = ma.fields.String(allow_none=True)
    signer = ma.fields.Dict(allow_none=True)
    signing_time = ma.fields.String(allow_none=True)
    signing_time_source = ma.fields.String(allow_none=True)
    content = ma.fields.Dict(allow_none=True)
