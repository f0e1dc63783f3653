"""E-licenses over HTTP (电子证照库):

- departments' systems (scope licenses:write) issue, amend and revoke the licenses of the types
  their department issues: `POST /api/v1/licenses`, `.../{identifier}/amendments`,
  `.../{identifier}/revocation`, and read one they issued: `GET /api/v1/licenses/{identifier}`;
- holders see their wallet (我的证照, `GET /api/v1/me/licenses`), download a credential and
  make a presentation that shows chosen items only (亮证, `POST .../presentations`);
- anyone verifies a credential, presentation or usage copy (`POST /api/v1/licenses/verification`)
  and fetches the license status lists (`GET /api/v1/status-lists/N`, list 2 first, served with
  the certificates' lists) and the 证照目录
  (`GET /api/v1/catalog/licenses`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session
from flask import Response, g, jsonify, request

from api.auth import CITIZEN_SECURITY, CLIENT_SECURITY, citizen_first, client_first, current_citizen, require_client
from api.license_services import (library, license_status_lists, show_license, use_context,
                                  verify_license_text, write)
from api.live_catalog import live_catalog
from api.exchange_edge_log import log_refusal_at_the_edge
from api.openapi import COUNTED_AT_HEADER, REPLAYED_HEADER, Blueprint
from api.presenters import (PDF_RESPONSE, counted_headers, counted_statistics, license_view, pdf_response,
                            presentation_view)
from api.problems import Problem
from api.rate_limit import limit_verification
from api.uploads import pdf_from_base64
from api.runtime import db, runtime
from api.schemas.licenses import (
    LicenseAmendSchema,
    LicenseIssueSchema,
    LicenseUseAnswerSchema,
    LicenseUseRequestSchema,
    LicenseRevocationSchema,
    LicenseSchema,
    LicenseStatisticsSchema,
    LicenseTypeSchema,
    LicenseVerdictSchema,
    UsageCopyPdfRequestSchema,
    LicenseVerifyRequestSchema,
    PresentationRequestSchema,
    PresentationSchema,
)
from catalog.model import Catalog, LicenseType, Subject
from exchange.clients import ClientScope
from exchange.licenses.documents import NotAUsageCopy, holder_license_pdf, license_pdf, usage_copy_pdf
from exchange.licenses.nonces import kept_presentation
from exchange.licenses.statistics import license_statistics
from exchange.licenses.use_service import UseRequest, use_license
from exchange.licenses.records import LicenseRecord, LicenseVersionRecord
from exchange.operations import system_actor
from exchange.licenses.service import (
    IssueRequest,
    LicenseConflict,
    LicenseLibrary,
    LicenseNotFound,
    NotTheIssuer,
    ReferenceInUse,
    amend_license,
    checked_holder,
    credential_of,
    current_version,
    ensure_not_replaced,
    find_version,
    held_version,
    holder_licenses,
    issue_license,
    license_issued_by,
    license_of,
    revoke_license,
)

blp = Blueprint("licenses", __name__, url_prefix="/api/v1",
                description="E-licenses: issue, amend, revoke, hold, show and verify (电子证照)")

@blp.route("/licenses", methods=["POST"])
@client_first(ClientScope.LICENSES_WRITE)
@blp.arguments(LicenseIssueSchema)
@blp.response(201, LicenseSchema)
@blp.alt_response(200, schema=LicenseSchema, description="The same request was issued before under this reference: "
                  "that license")
@blp.alt_response(403, description="Your department does not issue this license type (forbidden-by-policy)")
@blp.alt_response(409, description="The reference names a license issued from another request (#/reference)")
@blp.doc(security=CLIENT_SECURITY)
def issue(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Issue a license of a type your department issues (scope licenses:write), version 1, sealed."""
    client = require_client(ClientScope.LICENSES_WRITE)
    lib = library()
    holder_body = body["holder"]
    kind = Subject.PERSON if "id_number" in holder_body else Subject.ORGANISATION
    holder = checked_holder(kind, holder_body["name"], holder_body.get("id_number") or holder_body["uscc"])
    request = IssueRequest(license_type=body["license_type"], holder=holder, items=body["items"],
                           reference=body["reference"], valid_from=body.get("valid_from"),
                           valid_until=body.get("valid_until"))
    try:
        issued = write("issue-license",
                       lambda session: issue_license(session, lib, client.department_code, request,
                                                     system_actor(client)))
    except NotTheIssuer as refused:
        raise Problem("forbidden-by-policy", str(refused)) from None
    except ReferenceInUse as reused:
        raise Problem("conflict", str(reused), errors=[{"pointer": "#/reference", "detail": str(reused)}]) from None
    return license_view(lib, issued.license, issued.version), 201 if issued.created else 200


@blp.route("/licenses/<identifier>")
@client_first(ClientScope.LICENSES_WRITE)
@blp.response(200, LicenseSchema)
@blp.doc(security=CLIENT_SECURITY)
def issued_license(identifier: str) -> dict[str, Any]:
    """A license your department issued, by the identifier of any of its versions (scope licenses:write)."""
    client = require_client(ClientScope.LICENSES_WRITE)
    lib, session = library(), db()
    record = _issued_by(session, client.department_code, identifier)
    return license_view(lib, record, current_version(session, record))


@blp.route("/licenses/<identifier>/pdf")
@client_first(ClientScope.LICENSES_WRITE)
@blp.doc(security=CLIENT_SECURITY, responses=PDF_RESPONSE)
def issued_pdf(identifier: str) -> Response:
    """The sealed PDF of a version your department issued, signed by its seal (scope licenses:write)."""
    client = require_client(ClientScope.LICENSES_WRITE)
    session = db()
    _issued_by(session, client.department_code, identifier)
    return pdf_response(license_pdf(session, library(), find_version(session, identifier)), identifier)


@blp.route("/licenses/<identifier>/amendments", methods=["POST"])
@client_first(ClientScope.LICENSES_WRITE)
@blp.arguments(LicenseAmendSchema)
@blp.response(201, LicenseSchema)
@blp.alt_response(409, description="The version named is not the license's current one, or the license is revoked")
@blp.doc(security=CLIENT_SECURITY)
def amend(body: dict[str, Any], identifier: str) -> dict[str, Any]:
    """Amend a license: the next version with the changed items; the version named (it must be the
    current one, else 409) becomes superseded and verifies as such."""
    client = require_client(ClientScope.LICENSES_WRITE)
    lib = library()
    try:
        version = write("amend-license",
                        lambda session: amend_license(session, lib, client.department_code, identifier,
                                                          body["changes"], system_actor(client),
                                                          body.get("valid_until")))
    except NotTheIssuer as refused:
        raise Problem("forbidden-by-policy", str(refused)) from None
    except LicenseConflict as conflict:
        raise Problem("conflict", str(conflict)) from None
    return license_view(lib, license_of(db(), version), version)


@blp.route("/licenses/<identifier>/revocation", methods=["POST"])
@client_first(ClientScope.LICENSES_WRITE)
@blp.arguments(LicenseRevocationSchema)
@blp.response(200, LicenseSchema)
@blp.doc(security=CLIENT_SECURITY)
def revoke(body: dict[str, str], identifier: str) -> dict[str, Any]:
    """Revoke a license your department issued: every form of it (credential, presentations,
    usage copies) verifies as revoked from now on."""
    client = require_client(ClientScope.LICENSES_WRITE)
    lib = library()
    version = write("revoke-license",
                    lambda session: revoke_license(session, lib, client.department_code, identifier,
                                                       body["reason"], system_actor(client)))
    return license_view(lib, license_of(db(), version), version)


@blp.after_request
def log_use_refusals_before_the_use_case(response: Response) -> Response:
    """A 用证 request refused before `use_license` ran is logged as an exchange request is."""
    return log_refusal_at_the_edge(response) if request.endpoint == f"{blp.name}.use" else response


@blp.route("/exchange/license-uses", methods=["POST"])
@client_first(ClientScope.EXCHANGE_REQUEST)
@blp.arguments(LicenseUseRequestSchema)
@blp.response(200, LicenseUseAnswerSchema, headers={"Idempotent-Replayed": REPLAYED_HEADER})
@blp.alt_response(403, description="forbidden-by-policy (not in the 用证清单) or consent-required")
@blp.alt_response(404, description="subject-not-found: the holder has no valid license of the type")
@blp.alt_response(409, description="The request id is in use for another request, or still being answered")
@blp.doc(security=CLIENT_SECURITY)
def use(body: dict[str, Any]) -> Response:
    """用证: get a holder's license data for a matter, with a usage copy (加注件) sealed by the
    exchange for this matter, department and case until an expiry (scope exchange:request).

    The same rules as `POST /api/v1/exchange/requests`: the license type's 用证清单 must let your
    department use it for the matter, the citizen must have consented (to the proof the license
    answers) unless the matter's legal basis exempts it, a repeated request id replays the stored
    answer, and every request is logged where the citizen sees it."""
    client = require_client(ClientScope.EXCHANGE_REQUEST)
    subject = body["subject"]
    number = subject.get("id_number") or subject.get("uscc")
    if not number:
        detail = "subject: give the holder's id_number (a person) or uscc (an organisation)"
        raise Problem("invalid-request", detail, errors=[{"pointer": "#/subject", "detail": detail}])
    request = UseRequest(
        request_id=body["request_id"], caseworker_id=body["caseworker_id"], case_number=body["case_number"],
        matter=body["matter"], license_type=body["license_type"], purpose=body["purpose"],
        subject_name=subject.get("name") or "", subject_number=number,
        consent_id=body.get("consent_id"), legal_basis=body.get("legal_basis"), days=body["days"])
    g.access_logged = True  # from here on the use case logs whatever happens
    result = use_license(use_context(), client, request)
    response = jsonify(result.body)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.route("/exchange/license-uses/usage-copy.pdf", methods=["POST"])
@client_first(ClientScope.EXCHANGE_REQUEST)
@blp.arguments(UsageCopyPdfRequestSchema)
@blp.doc(security=CLIENT_SECURITY, responses=PDF_RESPONSE)
def usage_pdf(body: dict[str, str]) -> Response:
    """The usage copy (加注件) your department received from 用证, as a PDF sealed by the exchange
    (scope exchange:request). Only a usage copy that verifies — the exchange's seal, within its
    window, the license neither superseded nor revoked — and that was made for your department."""
    client = require_client(ClientScope.EXCHANGE_REQUEST)
    session = db()
    try:
        pdf = usage_copy_pdf(session, library(), body["usage_copy"], client.department_code,
                             runtime().settings.exchange_department, license_status_lists(session),
                             datetime.now(timezone.utc))
    except NotAUsageCopy as refused:
        raise Problem("invalid-request", str(refused),
                      errors=[{"pointer": "#/usage_copy", "detail": str(refused)}]) from None
    return pdf_response(pdf, "usage-copy")


@blp.route("/me/licenses")
@citizen_first
@blp.response(200, LicenseSchema(many=True))
@blp.doc(security=CITIZEN_SECURITY)
def mine() -> list[dict[str, Any]]:
    """我的证照: my licenses (current versions), newest first."""
    citizen = current_citizen()
    lib = library()
    return [license_view(lib, record, version) for record, version in
            holder_licenses(db(), lib.hash_key, Subject.PERSON, citizen.id_number)]


@blp.route("/me/licenses/<identifier>/credential")
@citizen_first
@blp.doc(security=CITIZEN_SECURITY, responses={"200": {"description": "The SD-JWT with every disclosure",
                                                       "content": {"application/sd-jwt": {"schema": {"type": "string"}}}}})
def credential(identifier: str) -> Response:
    """Download my license's credential (an SD-JWT with every item disclosable): 409 conflict once a
    later license states what it states (`replaced`: it would verify as it was)."""
    lib, version = _held(identifier)
    ensure_not_replaced(db(), lib, version, datetime.now(timezone.utc))
    response = Response(credential_of(lib, version), mimetype="application/sd-jwt")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = f'attachment; filename="{version.identifier}.sd-jwt"'
    return response


@blp.route("/me/licenses/<identifier>/pdf")
@citizen_first
@blp.doc(security=CITIZEN_SECURITY, responses=PDF_RESPONSE)
def held_pdf(identifier: str) -> Response:
    """Download my license version as a PDF sealed by the issuing department: 409 conflict once it
    is revoked or superseded (a page sealed today would look in force)."""
    lib, version = _held(identifier)
    return pdf_response(holder_license_pdf(db(), lib, version), version.identifier)


@blp.route("/me/licenses/<identifier>/presentations", methods=["POST"])
@citizen_first
@blp.arguments(PresentationRequestSchema)
@blp.response(201, PresentationSchema)
@blp.alt_response(409, description="The version is no longer the license's current, valid one")
@blp.doc(security=CITIZEN_SECURITY)
def present(body: dict[str, Any], identifier: str) -> dict[str, Any]:
    """亮证: show my license with only the chosen items, bound to a nonce, for a few minutes.
    The verifier checks it once (`POST /api/v1/licenses/verification`)."""
    lib, version = _held(identifier)
    return presentation_view(*show_license(lib, version, body["items"], minutes=body["minutes"],
                                           nonce=body.get("nonce")))


@blp.route("/licenses/verification", methods=["POST"])
@blp.arguments(LicenseVerifyRequestSchema)
@blp.response(200, LicenseVerdictSchema)
@blp.alt_response(429, description="Too many verifications from this address; Retry-After says when to try again")
def verify(body: dict[str, str]) -> dict[str, Any]:
    """Verify a license credential, a presentation (亮证; once: its nonce is then used up), a
    usage copy (加注件), or the PDF of a license or usage copy (base64). No authentication;
    rate-limited per address."""
    limit_verification()
    if "pdf_base64" in body:
        form: str | bytes = pdf_from_base64(body["pdf_base64"])
    else:
        form = body.get("license") or kept_license_text(body["reference"])
    return verify_license_text(form, body.get("id_number"), body.get("nonce")).to_dict()


@blp.route("/statistics/licenses")
@blp.response(200, LicenseStatisticsSchema(many=True), headers={"Last-Modified": COUNTED_AT_HEADER})
def statistics() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Per license type: licenses held (valid), times used by departments through the exchange
    (用证) — each a paper copy not brought —, per matter; as counted with `GET /statistics`, at
    the time `Last-Modified` says."""
    counted = counted_statistics()
    return license_statistics(counted.licenses, live_catalog().catalog), counted_headers(counted)


@blp.route("/catalog/licenses")
@blp.response(200, LicenseTypeSchema(many=True))
def license_types() -> list[dict[str, Any]]:
    """证照目录: every license type of the live catalog, with its 用证清单."""
    catalog = live_catalog().catalog
    return [_type_view(catalog, t) for t in catalog.licenses.values()]


@blp.route("/catalog/licenses/<code>")
@blp.response(200, LicenseTypeSchema)
def license_type(code: str) -> dict[str, Any]:
    """One license type of the live catalog."""
    catalog = live_catalog().catalog
    if code not in catalog.licenses:
        raise Problem("not-found", f"The live catalog has no license type {code!r}.")
    return _type_view(catalog, catalog.licenses[code])


def kept_license_text(reference: str) -> str:
    """The presentation kept under a QR code's reference; 404 once it expired (or never was)."""
    text = kept_presentation(db(), library().box, reference, datetime.now(timezone.utc))
    if text is None:
        raise Problem("not-found", "No presentation under this reference: it expired or never existed; ask the "
                                   "holder to show the license again.")
    return text


def _type_view(catalog: Catalog, license_type: LicenseType) -> dict[str, Any]:
    document = next(entry for entry in catalog.to_document()["licenses"] if entry["code"] == license_type.code)
    items = [{"values": {}, **item} for item in document["data_items"]]  # a dict's own .values is no value map
    return {"proof": None, "validity_years": None, **document, "data_items": items}


def _issued_by(session: Session, department: str, identifier: str) -> LicenseRecord:
    try:
        return license_issued_by(session, department, identifier)
    except LicenseNotFound:
        raise Problem("not-found", "Your department issued no license with this identifier.") from None


def _held(identifier: str) -> tuple[LicenseLibrary, LicenseVersionRecord]:
    """The version `identifier` of a license the signed-in citizen holds (404 otherwise)."""
    lib = library()
    try:
        _record, version = held_version(db(), lib.hash_key, Subject.PERSON, current_citizen().id_number, identifier)
    except LicenseNotFound:
        raise Problem("not-found", "You hold no license with this identifier.") from None
    return lib, version
