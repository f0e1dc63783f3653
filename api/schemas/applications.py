"""Schemas of matter applications, commitments and their views."""

from __future__ import annotations

import marshmallow as ma

from catalog.schemas import StrictBoolean, WholeMatch
from exchange.applications.service import DEFAULT_CONSENT_DAYS
from exchange.certificates.model import RELATIONS_ZH
from exchange.consent import MAX_CONSENT_DAYS
from api.schemas.exchange import no_id_number
from exchange.pull_service import REQUEST_ID

_KEPT_TEXT = ma.validate.Length(min=1, max=64)
"""A caseworker id or case number, as long as an application keeps it (its column holds 64)."""
_NAME = ma.validate.Length(min=1, max=64)


class PartySchema(ma.Schema):
    name = ma.fields.String(required=True, validate=_NAME,
                            metadata={"description": "Name as the source departments hold it"})
    id_number = ma.fields.String(metadata={"description": "GB 11643 ID number of a person"})
    uscc = ma.fields.String(metadata={"description": "Unified social credit code of an organisation (employer)"})
    relation = ma.fields.String(validate=ma.validate.OneOf(RELATIONS_ZH),
                                metadata={"description": "Relation to the applicant (required for members), one of "
                                          + ", ".join(RELATIONS_ZH) + ": a spouse's proofs are asked of the member "
                                          "whose relation is spouse, one member at most"})
    consent_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                                  metadata={"description": "The person's own online consent, if given"})


class SignatureSchema(ma.Schema):
    channel = ma.fields.String(required=True, validate=ma.validate.OneOf(["counter", "online"]),
                               metadata={"description": "counter: signed in person, attested by the caseworker; "
                                                        "online: with the applicant's identity assertion"})
    assertion = ma.fields.String(validate=ma.validate.Length(min=1, max=8192),
                                 metadata={"description": "The applicant's identity assertion (online only)"})


class CommitmentOfferSchema(ma.Schema):
    proof = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64),
                             metadata={"example": "INCOME"})
    party = ma.fields.String(load_default="applicant", validate=ma.validate.Length(min=1, max=32),
                             metadata={"description": "Whose proof: applicant (default), member:<n>, child ..."})
    values = ma.fields.Dict(required=True, metadata={"description": "A value for every field the matter receives"})


class ApplicationCreateSchema(ma.Schema):
    """A department's application for a matter, for an applicant and (for a household matter) its members."""

    request_id = ma.fields.String(required=True, validate=[WholeMatch(REQUEST_ID), no_id_number],
                                  metadata={"description": "Idempotency key chosen by the client (never an ID number)"})
    caseworker_id = ma.fields.String(required=True, validate=[_KEPT_TEXT, no_id_number])
    case_number = ma.fields.String(required=True, validate=[_KEPT_TEXT, no_id_number],
                                   metadata={"description": "The department's case number (never an ID number)"})
    applicant = ma.fields.Nested(PartySchema, required=True)
    members = ma.fields.List(ma.fields.Nested(PartySchema), load_default=list,
                             validate=ma.validate.Length(max=20),
                             metadata={"description": "The household's other members (member:1, member:2 ...)"})
    child = ma.fields.Nested(PartySchema)
    deceased = ma.fields.Nested(PartySchema)
    employer = ma.fields.Nested(PartySchema)
    options = ma.fields.Dict(load_default=dict, metadata={"description": "The matter's options, e.g. priority_allocation"})
    counter_consent = StrictBoolean(load_default=False,
                                    error_messages={"invalid": "must be true or false"},
                                    metadata={"description": "Every person signed the written authorisation at "
                                                             "the counter: record a counter consent for each"})
    consent_days = ma.fields.Integer(strict=True, load_default=DEFAULT_CONSENT_DAYS,
                                     validate=ma.validate.Range(min=1, max=MAX_CONSENT_DAYS))
    commitments = ma.fields.List(ma.fields.Nested(CommitmentOfferSchema), load_default=list,
                                 validate=ma.validate.Length(max=50))
    signature = ma.fields.Nested(SignatureSchema)


class CommitmentsAddSchema(ma.Schema):
    commitments = ma.fields.List(ma.fields.Nested(CommitmentOfferSchema), required=True,
                                 validate=ma.validate.Length(min=1, max=50))
    signature = ma.fields.Nested(SignatureSchema, required=True)


class CommitmentQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(["pending", "confirmed", "false", "on_site"]))


class CommitmentSchema(ma.Schema):
    id = ma.fields.String()
    application_id = ma.fields.String()
    matter = ma.fields.String()
    proof = ma.fields.String()
    proof_name_zh = ma.fields.String()
    fallback = ma.fields.Boolean(metadata={"description": "Taken because the source could not answer"})
    channel = ma.fields.String()
    signed_at = ma.fields.DateTime()
    status = ma.fields.String(metadata={"description": "pending, confirmed, false or on_site"})
    status_zh = ma.fields.String()
    verified_at = ma.fields.DateTime(allow_none=True)
    verification_detail = ma.fields.String(allow_none=True)
    verification_receipt_id = ma.fields.String(allow_none=True)
    handling_department = ma.fields.String()


class SignedCommitmentSchema(CommitmentSchema):
    token = ma.fields.String(metadata={"description": "The commitment sealed by the exchange (compact JWS)"})


class ItemSchema(ma.Schema):
    proof = ma.fields.String()
    proof_name_zh = ma.fields.String()
    party = ma.fields.String()
    party_label = ma.fields.String(allow_none=True)
    mode = ma.fields.String()
    mode_zh = ma.fields.String()
    department = ma.fields.String()
    department_name_zh = ma.fields.String()
    state = ma.fields.String()
    state_zh = ma.fields.String()
    detail = ma.fields.String(allow_none=True)
    values = ma.fields.Dict(allow_none=True)
    as_of = ma.fields.DateTime(allow_none=True)
    receipt_id = ma.fields.String(allow_none=True)
    license = ma.fields.String(allow_none=True, metadata={
        "description": "The identifier of the license version in the library the values were read from"})
    commitment_id = ma.fields.String(allow_none=True)
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)


class ApplicationSchema(ma.Schema):
    id = ma.fields.String()
    matter = ma.fields.String()
    matter_name_zh = ma.fields.String()
    consumer_department = ma.fields.String()
    case_number = ma.fields.String()
    caseworker_id = ma.fields.String()
    request_id = ma.fields.String()
    status = ma.fields.String(metadata={"description": "resolving, waiting, decided or withdrawn"})
    status_zh = ma.fields.String()
    decision = ma.fields.String(allow_none=True, metadata={"description": "eligible, needs_review or not_eligible"})
    priorities = ma.fields.List(ma.fields.String())
    flagged = ma.fields.Boolean(metadata={"description": "A commitment was found false: review the application"})
    flag_reason = ma.fields.String(allow_none=True)
    options = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)
    withdrawn_at = ma.fields.DateTime(allow_none=True, metadata={"description": "When its department withdrew it"})
    concluded = ma.fields.Boolean(metadata={"description": "办结: decided eligible or not eligible, a bundle with a part "
                                                           "eligible, or flagged; no longer withdrawn"})
    parties = ma.fields.List(ma.fields.Dict())
    items = ma.fields.List(ma.fields.Nested(ItemSchema))
    paper_saved = ma.fields.Integer(metadata={"description": "Proofs settled without the applicant bringing paper"})
    decision_detail = ma.fields.Dict(allow_none=True,
                                     metadata={"description": "Each rule, its result and the values it read with "
                                                              "their source (department, as-of, receipt or commitment)"})
    commitments = ma.fields.List(ma.fields.Nested(CommitmentSchema))
    tasks = ma.fields.List(ma.fields.Dict(), metadata={"description": "Investigation tasks handed to departments"})


class ApplicationSummarySchema(ma.Schema):
    id = ma.fields.String()
    matter = ma.fields.String()
    case_number = ma.fields.String()
    status = ma.fields.String()
    decision = ma.fields.String(allow_none=True)
    flagged = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)


class TaskQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(["open", "done"]))


class TaskResultSchema(ma.Schema):
    values = ma.fields.Dict(required=True, metadata={"description": "A value for every field the matter receives"})


class TaskSchema(ma.Schema):
    id = ma.fields.String()
    application_id = ma.fields.String()
    matter = ma.fields.String()
    case_number = ma.fields.String()
    department = ma.fields.String()
    proof = ma.fields.String()
    proof_name_zh = ma.fields.String()
    fields = ma.fields.List(ma.fields.String(), metadata={"description": "The fields the result must give"})
    status = ma.fields.String()
    created_at = ma.fields.DateTime()
    completed_at = ma.fields.DateTime(allow_none=True)
