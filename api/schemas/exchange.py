"""Schemas of the exchange request and its answer."""

from __future__ import annotations

import marshmallow as ma

from catalog.schemas import WholeMatch
from catalog.citizen_id import mask_free_text
from exchange.pull_service import REQUEST_ID

_CODE = WholeMatch(r"^[A-Z][A-Z0-9_]*$", error="must be an upper-case code such as NO_HOUSING")
_TEXT = ma.validate.Length(min=1, max=128)


class SubjectSchema(ma.Schema):
    id_number = ma.fields.String(metadata={"description": "GB 11643 ID number, for a proof about a person"})
    uscc = ma.fields.String(metadata={"description": "Unified social credit code, for a proof about an organisation"})
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                            metadata={"description": "Name as the source department holds it (checked by the source)"})

    @ma.validates_schema
    def _one_identifier(self, data: dict, **_kwargs: object) -> None:
        if ("id_number" in data) == ("uscc" in data):
            raise ma.ValidationError("give exactly one of id_number and uscc", "_schema")


def no_id_number(text: str) -> None:
    """Refuse an identifier with a citizen's ID number in it, however written, even mistyped (as
    free text is masked: `mask_free_text`): request ids, case numbers and caseworker ids are kept
    in clear (the store of answered requests, applications), where personal data is only ever a
    keyed hash."""
    if mask_free_text(text) != text:
        raise ma.ValidationError("must not contain an ID number: it is stored in clear")


class EnvelopeSchema(ma.Schema):
    """The envelope of a request for someone's data: who asks, for which case, matter and purpose,
    about whom, on which basis (what it asks for is its subclass's)."""

    request_id = ma.fields.String(required=True, validate=[WholeMatch(REQUEST_ID), no_id_number],
                                  metadata={"description": "Idempotency key chosen by the client (1-128 chars; "
                                                           "never an ID number: it is stored in clear)"})
    caseworker_id = ma.fields.String(required=True, validate=_TEXT)
    case_number = ma.fields.String(required=True, validate=_TEXT)
    matter = ma.fields.String(required=True, validate=_CODE, metadata={"example": "PUBLIC_RENTAL_HOUSING"})
    subject = ma.fields.Nested(SubjectSchema, required=True)
    purpose = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    consent_id = ma.fields.String(validate=ma.validate.Length(min=1, max=64),
                                  metadata={"description": "The citizen's consent (when the matter requires one)"})
    legal_basis = ma.fields.String(validate=ma.validate.Length(min=1, max=500),
                                   metadata={"description": "For a matter that needs no consent: its legal basis"})


class ExchangeRequestSchema(EnvelopeSchema):
    """The envelope: who asks, for which case, matter, proof and purpose, about whom, on which basis."""

    proof = ma.fields.String(required=True, validate=_CODE, metadata={"example": "NO_HOUSING"})


class SourceSchema(ma.Schema):
    department = ma.fields.String()
    name = ma.fields.String()
    license = ma.fields.Dict(metadata={"description": "Present when the data was read from the holder's e-license "
                                                      "in the license library: its identifier, type and version"})


class AnswerSchema(ma.Schema):
    request_id = ma.fields.String()
    matter = ma.fields.String()
    proof = ma.fields.String()
    source = ma.fields.Nested(SourceSchema)
    as_of = ma.fields.String(metadata={"description": "When the source department's data was current"})
    answered_at = ma.fields.String()
    data = ma.fields.Dict(metadata={"description": "Only the fields the matter may receive"})


class ExchangeAnswerSchema(ma.Schema):
    answer = ma.fields.Nested(AnswerSchema)
    receipt = ma.fields.String(metadata={"description": "JWS by the exchange's seal binding request and answer hashes"})
