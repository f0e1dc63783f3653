"""Organisations' licenses (法人电子证照) over HTTP: an organisation signed in by its legal-person
assertion (`api.legal_person_auth`) lists the licenses it holds by its USCC (营业执照 …),
downloads a credential or sealed PDF, and shows one (亮证) exactly as a citizen does
(`/api/v1/org/licenses...`, the same views as `/api/v1/me/licenses...`), and reads who used its
data (`/api/v1/org/access-log`, as `/api/v1/me/access-log`). The development
identity provider's legal-person sign-in is the demo part's (`demo.routes.dev_idp_legal_person`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import marshmallow as ma
from flask import Response

from api.access_log_views import access_log_page
from api.legal_person_auth import LEGAL_PERSON_SECURITY, current_organisation
from api.license_services import library, show_license
from api.openapi import Blueprint, before_parsing
from api.presenters import PDF_RESPONSE, license_view, pdf_response, presentation_view
from api.problems import Problem
from api.runtime import db, runtime
from api.schemas.licenses import LicenseSchema, PresentationRequestSchema, PresentationSchema
from api.schemas.me import AccessLogPageSchema, PageQuerySchema
from catalog.model import Subject
from exchange.licenses.documents import holder_license_pdf
from exchange.licenses.records import LicenseVersionRecord
from exchange.licenses.service import (LicenseLibrary, LicenseNotFound, credential_of, ensure_not_replaced, held_version,
                                       holder_licenses)
from exchange.subjects import organisation_key

blp = Blueprint("org_licenses", __name__, url_prefix="/api/v1/org",
                description="An organisation's licenses (法人电子证照), by legal-person sign-in")


@blp.route("/licenses")
@before_parsing(current_organisation)
@blp.response(200, LicenseSchema(many=True))
@blp.doc(security=LEGAL_PERSON_SECURITY)
def mine() -> list[dict[str, Any]]:
    """The signed-in organisation's licenses (current versions), newest first."""
    organisation = current_organisation()
    lib = library()
    return [license_view(lib, record, version) for record, version in
            holder_licenses(db(), lib.hash_key, Subject.ORGANISATION, organisation.uscc)]


@blp.route("/access-log")
@before_parsing(current_organisation)
@blp.arguments(PageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, AccessLogPageSchema)
@blp.doc(security=LEGAL_PERSON_SECURITY)
def access_log(args: dict[str, int]) -> dict[str, Any]:
    """Who used our data: every request about the signed-in organisation (its licenses used, its
    proofs pulled) — allowed, denied or failed — newest first, as a citizen reads theirs."""
    organisation = current_organisation()
    return access_log_page(organisation_key(runtime().subject_hash_key, organisation.uscc),
                           limit=args["limit"], offset=args["offset"], before_seq=args.get("before_seq"))


@blp.route("/licenses/<identifier>/credential")
@before_parsing(current_organisation)
@blp.doc(security=LEGAL_PERSON_SECURITY, responses={"200": {"description": "The SD-JWT with every disclosure",
                                                            "content": {"application/sd-jwt": {"schema": {"type": "string"}}}}})
def credential(identifier: str) -> Response:
    """Download the organisation's license credential (an SD-JWT with every item disclosable); 409
    conflict once a later license states what it states (`replaced`)."""
    lib, version = _held(identifier)
    ensure_not_replaced(db(), lib, version, datetime.now(timezone.utc))
    response = Response(credential_of(lib, version), mimetype="application/sd-jwt")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/licenses/<identifier>/pdf")
@before_parsing(current_organisation)
@blp.doc(security=LEGAL_PERSON_SECURITY, responses=PDF_RESPONSE)
def held_pdf(identifier: str) -> Response:
    """The organisation's license version as a PDF sealed by the issuing department; 409 conflict
    once it is revoked or superseded."""
    lib, version = _held(identifier)
    return pdf_response(holder_license_pdf(db(), lib, version), version.identifier)


@blp.route("/licenses/<identifier>/presentations", methods=["POST"])
@before_parsing(current_organisation)
@blp.arguments(PresentationRequestSchema)
@blp.response(201, PresentationSchema)
@blp.doc(security=LEGAL_PERSON_SECURITY)
def present(body: dict[str, Any], identifier: str) -> dict[str, Any]:
    """亮证 for the organisation: only the chosen items, bound to a nonce, for a few minutes."""
    lib, version = _held(identifier)
    return presentation_view(*show_license(lib, version, body["items"], minutes=body["minutes"],
                                           nonce=body.get("nonce")))


def _held(identifier: str) -> tuple[LicenseLibrary, LicenseVersionRecord]:
    lib = library()
    try:
        _record, version = held_version(db(), lib.hash_key, Subject.ORGANISATION, current_organisation().uscc,
                                        identifier)
    except LicenseNotFound:
        raise Problem("not-found", "The organisation holds no license with this identifier.") from None
    return lib, version
