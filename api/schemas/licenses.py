"""Schemas of the e-license library: issuing, amending and revoking (departments), the wallet
and presentations (holders), verification (anyone), and the 证照目录."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from catalog.schemas import WholeMatch
from api.schemas.catalog import DataItemSchema
from api.schemas.certificates import CheckSchema, citizen_id_number
from api.schemas.exchange import EnvelopeSchema
from exchange.certificates.status_list import REVOCATION_REASONS
from exchange.licenses.references import reference_problem
from exchange.licenses.presentation import DEFAULT_MINUTES, MAX_MINUTES, VERIFIER_NONCE
from exchange.licenses.service import MAX_HOLDER_NAME
from exchange.licenses.use_service import DEFAULT_USE_DAYS, MAX_USE_DAYS

_CODE = WholeMatch(r"^[A-Z][A-Z0-9_]*$", error="must be an upper-case code such as MARRIAGE_CERTIFICATE")
_NAME = WholeMatch(r"^[a-z][a-z0-9_]*$", error="must be a data item name such as marital_status")


def _reference(reference: str) -> None:
    if (problem := reference_problem(reference)) is not None:
        raise ma.ValidationError(problem)
_REASONS = [code for code in REVOCATION_REASONS if code != "superseded"]


class HolderSchema(ma.Schema):
    """A person by ID number, or an organisation by unified social credit code."""

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=MAX_HOLDER_NAME),
                            metadata={"example": "刘佳国"})
    id_number = ma.fields.String(validate=ma.validate.Length(min=15, max=18),
                                 metadata={"example": "330703199006228351"})
    uscc = ma.fields.String(validate=ma.validate.Length(equal=18))

    @ma.validates_schema
    def _one_number(self, data: dict[str, Any], **_kwargs: object) -> None:
        if ("id_number" in data) == ("uscc" in data):
            raise ma.ValidationError("give exactly one of id_number (a person) and uscc (an organisation)", "_schema")


class LicenseIssueSchema(ma.Schema):
    license_type = ma.fields.String(required=True, validate=_CODE, metadata={"example": "MARRIAGE_CERTIFICATE"})
    reference = ma.fields.String(
        required=True, validate=_reference,
        metadata={"description": "The department's own record id: issuing the same reference again returns the "
                                 "license issued the first time (200) instead of a second one; kept in clear, so "
                                 "never an ID number",
                  "example": "MZ-JH-2026-000123"})
    holder = ma.fields.Nested(HolderSchema, required=True)
    items = ma.fields.Dict(keys=ma.fields.String(validate=_NAME), required=True,
                           metadata={"description": "Every data item of the license type (null: not applicable)"})
    valid_from = ma.fields.Date(metadata={"description": "Default: now"})
    valid_until = ma.fields.Date(metadata={"description": "Only for types whose validity rule is `stated`"})


class LicenseAmendSchema(ma.Schema):
    changes = ma.fields.Dict(keys=ma.fields.String(validate=_NAME), required=True,
                             validate=ma.validate.Length(min=1, error="change at least one item"),
                             metadata={"description": "The items that change; the others are kept"})
    valid_until = ma.fields.Date()


class LicenseRevocationSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(_REASONS))


class LicenseItemSchema(ma.Schema):
    name = ma.fields.String()
    label_zh = ma.fields.String()
    value = ma.fields.Raw(allow_none=True)
    text_zh = ma.fields.String()


class LicenseVersionSchema(ma.Schema):
    identifier = ma.fields.String(metadata={"description": "GB/T 36904 identifier of this version"})
    version = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["valid", "superseded", "revoked"]})
    issued_at = ma.fields.DateTime()
    valid_from = ma.fields.DateTime()
    valid_until = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    revocation_reason = ma.fields.String(allow_none=True)


class LicenseLinksSchema(ma.Schema):
    credential = ma.fields.String(metadata={"description": "The SD-JWT credential with every disclosure (holder only)"})
    pdf = ma.fields.String(metadata={"description": "The version as a PDF sealed by the issuer (holder only)"})
    presentations = ma.fields.String(metadata={"description": "POST here to show the license (亮证)"})


class LicenseSchema(ma.Schema):
    identifier = ma.fields.String(metadata={"description": "Identifier of the current version"})
    license_type = ma.fields.String()
    license_name_zh = ma.fields.String()
    issuer = ma.fields.String()
    issuer_name_zh = ma.fields.String()
    holder_name = ma.fields.String()
    holder_id_masked = ma.fields.String()
    status = ma.fields.String(metadata={
        "enum": ["valid", "expired", "not_yet_valid", "revoked", "seal_revoked", "replaced", "altered"],
        "description": "The current version's state now: only a `valid` one (in force) can be shown (亮证) or used; "
                       "`seal_revoked`: sealed with a seal since revoked for key compromise, so every verifier calls "
                       "it invalid until its issuer issues it again; `replaced`: in force, but a license answering "
                       "the same proof registered later (`replaced_by`) states it now (the 离婚证 after the "
                       "结婚证), so it is neither shown, used nor sealed again; `altered`: its stored record was "
                       "changed outside the exchange, so nothing of it is read (no holder, items or links), shown, "
                       "used or sealed again, and the operators are told"})
    replaced_by = ma.fields.String(metadata={"description": "For a `replaced` license: the type of the one that "
                                                            "replaced it", "example": "DIVORCE_CERTIFICATE"})
    replaced_by_name_zh = ma.fields.String(metadata={"example": "离婚证"})
    version = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(LicenseItemSchema))
    versions = ma.fields.List(ma.fields.Nested(LicenseVersionSchema))
    links = ma.fields.Nested(LicenseLinksSchema)


class PresentationRequestSchema(ma.Schema):
    items = ma.fields.List(ma.fields.String(validate=_NAME), required=True,
                           validate=ma.validate.Length(min=1, error="choose at least one item to show"),
                           metadata={"example": ["marital_status", "registration_date"]})
    minutes = ma.fields.Integer(strict=True, load_default=DEFAULT_MINUTES,
                                validate=ma.validate.Range(min=1, max=MAX_MINUTES))
    nonce = ma.fields.String(validate=WholeMatch(VERIFIER_NONCE.pattern),
                             metadata={"description": "The verifier's nonce; default: a fresh one"})


class PresentationSchema(ma.Schema):
    presentation = ma.fields.String(metadata={"description": "SD-JWT: issuer JWT ~ chosen disclosures ~ binding JWT"})
    nonce = ma.fields.String()
    expires_at = ma.fields.DateTime()
    reference = ma.fields.String(metadata={"description": "The presentation is kept under this reference until it "
                                                          "expires; verify it with {\"reference\": ...}"})
    link = ma.fields.String(metadata={"description": "The verify page for this presentation (what the QR code holds)"})
    qr_svg = ma.fields.String(allow_none=True, metadata={"description": "The link as a QR code (SVG)"})


class LicenseVerifyRequestSchema(ma.Schema):
    """Exactly one of the text, a presentation's reference and a PDF, and optionally the holder's ID number."""

    license = ma.fields.String(validate=ma.validate.Length(min=1, max=200_000),
                               metadata={"description": "A license credential, a presentation or a usage copy"})
    reference = ma.fields.String(validate=WholeMatch(r"^[A-Za-z0-9_-]{43}$"),
                                 metadata={"description": "The reference of a presentation (from its QR code's link)"})
    pdf_base64 = ma.fields.String(validate=ma.validate.Length(min=1, max=4_000_000),
                                  metadata={"description": "The PDF of a license or usage copy, base64"})
    id_number = ma.fields.String(validate=citizen_id_number,
                                 metadata={"description": "Check that the license is this person's "
                                                          "(a GB 11643 ID number; a malformed one is a 400)"})
    nonce = ma.fields.String(validate=WholeMatch(VERIFIER_NONCE.pattern),
                             metadata={"description": "The nonce this verifier gave the holder: a presentation "
                                                      "made with any other is INVALID (nonce_mismatch)"})

    @ma.validates_schema
    def _one_input(self, data: dict[str, Any], **_kwargs: object) -> None:
        if sum(name in data for name in ("license", "reference", "pdf_base64")) != 1:
            raise ma.ValidationError("give exactly one of license, reference and pdf_base64", "_schema")


class LicenseVerdictSchema(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["VALID", "INVALID", "ERROR"]})
    form = ma.fields.String(metadata={"enum": ["license", "presentation", "usage_copy", "unknown"]})
    checks = ma.fields.List(ma.fields.Nested(CheckSchema))
    revocation_reason = ma.fields.String(allow_none=True)
    signer = ma.fields.Dict(allow_none=True)
    signing_time = ma.fields.String(allow_none=True)
    signing_time_source = ma.fields.String(allow_none=True)
    content = ma.fields.Dict(allow_none=True)
    items = ma.fields.List(ma.fields.Nested(LicenseItemSchema))
    usage = ma.fields.Dict(allow_none=True, metadata={"description": "A usage copy's use: matter, department, "
                                                                     "purpose, case, used_at, valid_until"})
    pdf = ma.fields.Boolean(metadata={"description": "The form came inside a signed PDF (check pdf_signature)"})


class UsageCopyPdfRequestSchema(ma.Schema):
    usage_copy = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200_000),
                                  metadata={"description": "The usage copy (加注件) a 用证 answer carried"})


class LicenseUseSchema(ma.Schema):
    matter = ma.fields.String()
    departments = ma.fields.List(ma.fields.String())
    items = ma.fields.List(ma.fields.String())
    purpose_zh = ma.fields.String()


class LicenseTypeSchema(ma.Schema):
    code = ma.fields.String(metadata={"example": "MARRIAGE_CERTIFICATE"})
    type_code = ma.fields.String(metadata={"description": "Type segment of the GB/T 36904 identifier"})
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    department = ma.fields.String()
    holder = ma.fields.String(metadata={"enum": ["person", "organisation"]})
    proof = ma.fields.String(allow_none=True, metadata={"description": "The proof a license answers (mode e_license)"})
    data_items = ma.fields.List(ma.fields.Nested(DataItemSchema))
    validity = ma.fields.String(metadata={"enum": ["permanent", "years", "stated"]})
    validity_years = ma.fields.Integer(allow_none=True)
    legal_basis_zh = ma.fields.String()
    uses = ma.fields.List(ma.fields.Nested(LicenseUseSchema), metadata={"description": "用证清单"})


class LicenseUseRequestSchema(EnvelopeSchema):
    """用证: the exchange envelope, naming a license type instead of a proof."""

    license_type = ma.fields.String(required=True, validate=_CODE, metadata={"example": "MARRIAGE_CERTIFICATE"})
    days = ma.fields.Integer(strict=True, load_default=DEFAULT_USE_DAYS,
                             validate=ma.validate.Range(min=1, max=MAX_USE_DAYS),
                             metadata={"description": "How long the usage copy is valid (at most the license's own "
                                                      "validity)"})


class LicenseUseAnswerSchema(ma.Schema):
    answer = ma.fields.Dict(metadata={"description": "The items the 用证清单 allows, the license and its issuer "
                                                     "(source), and the usage copy's identifier and expiry"})
    usage_copy = ma.fields.String(metadata={"description": "加注件: a JWS sealed by the exchange for this use"})
    receipt = ma.fields.String(metadata={"description": "JWS by the exchange's seal binding request and answer hashes"})


class LicenseStatisticsSchema(ma.Schema):
    license_type = ma.fields.String()
    name_zh = ma.fields.String()
    held = ma.fields.Integer(metadata={"description": "Licenses of the type in force now (not revoked, lapsed, or "
                                                      "yet to take effect)"})
    used = ma.fields.Integer(metadata={"description": "Usage copies made for departments (用证)"})
    paper_avoided = ma.fields.Integer(metadata={"description": "Paper copies not brought: one per use"})
    used_by_matter = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
