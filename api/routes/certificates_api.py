"""E-certificates over HTTP: citizens request and download their own (`/api/v1/me/certificates`,
`/api/v1/certificates/{id}.pdf|.jws|.qr`), issuing departments revoke them, anyone fetches the
signed status list and verifies a certificate in any of its three forms (`/api/v1/verify`)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from api.auth import CITIZEN_SECURITY, CLIENT_SECURITY, citizen_first, client_first, current_citizen, require_client
from api.certificate_services import issuance_context, signed_status_list, verify_form
from api.seal_config import status_list_signing
from api.live_catalog import live_catalog, naming_catalog
from api.openapi import LOCATION_HEADER, REPLAYED_HEADER, Blueprint
from api.presenters import CERTIFICATE_FORMS, NOT_MODIFIED, certificate_view, certificate_views, revalidated
from api.problems import Problem
from api.rate_limit import limit_verification
from api.uploads import pdf_from_base64
from api.runtime import db, runtime
from api.schemas.certificates import (
    CertificateSummarySchema,
    IssuableProofSchema,
    IssueRequestSchema,
    RevocationSchema,
    VerdictSchema,
    VerifyRequestSchema,
)
from catalog.citizen_id import mask_free_text
from catalog.model import Mode
from exchange.asserted_facts import FactNotEstablished
from exchange.certificate_records import certificate_forms
from exchange.clients import ClientScope
from exchange.issuance import (
    CertificateNotFound,
    held_certificate,
    holder_certificates,
    issuable_proofs,
    issued_or_replayed,
    revoke_certificate,
)
from exchange.answer_store import RequestIdConflict
from exchange.keyring import Purpose
from exchange.operations import system_actor
from exchange.pull_service import REQUEST_ID
from exchange.status_lists import MAX_LIST_ID
from seals.ca import utc_now

blp = Blueprint("certificates", __name__, url_prefix="/api/v1",
                description="E-certificates: issue, download, revoke, verify (电子证明)")

IDEMPOTENCY_KEY = "Idempotency-Key"


@blp.route("/me/issuable-proofs")
@blp.response(200, IssuableProofSchema(many=True))
def issuable() -> list[dict[str, Any]]:
    """Proofs a citizen can have issued as an e-certificate (网上开具 first)."""
    catalog = live_catalog().catalog
    return [{"code": p.code, "name_zh": p.name_zh, "department": p.department,
             "department_name_zh": catalog.departments[p.department].legal_name_zh,
             "online_issue": p.mode is Mode.ONLINE_ISSUE} for p in issuable_proofs(catalog)]


@blp.route("/me/certificates", methods=["POST"])
@citizen_first
@blp.arguments(IssueRequestSchema)
@blp.response(201, CertificateSummarySchema, headers={"Location": LOCATION_HEADER})
@blp.alt_response(200, schema=CertificateSummarySchema, headers={"Location": LOCATION_HEADER,
                                                                  "Idempotent-Replayed": REPLAYED_HEADER},
                  description="The certificate an earlier request with the same Idempotency-Key issued, not a new one")
@blp.alt_response(404, description="subject-not-found: the source department holds no record of the holder")
@blp.alt_response(409, description="The Idempotency-Key was used for another request, or its first use is running; "
                                   "or the license the proof is read from changed at each of three reads (Retry-After)")
@blp.alt_response(422, description="fact-not-established: the record does not establish what the proof asserts; "
                                   "not-printable: the holder's name has a character the certificate cannot print")
@blp.alt_response(502, description="source-error: the source department's answer broke its contract, or it refused "
                                   "the query")
@blp.alt_response(503, description="source-unavailable: the source department does not answer now (Retry-After); "
                                   "service-unavailable: the issuer has no seal it can sign with")
@blp.doc(security=CITIZEN_SECURITY, parameters=[{
    "in": "header", "name": IDEMPOTENCY_KEY, "required": False, "schema": {"type": "string", "pattern": REQUEST_ID.pattern},
    "description": "Repeating the request with the same key returns the certificate issued first, never a second one"}])
def issue(body: dict[str, str]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Issue one of my proofs now, from the source department's current data, under its seal.
    `Location` is the sealed PDF; `links` name each form. Repeated with the same `Idempotency-Key`:
    200 and `Idempotent-Replayed: true`, with the certificate issued first."""
    citizen = current_citizen()
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and (not REQUEST_ID.fullmatch(key) or mask_free_text(key) != key):
        detail = "1-128 characters of A-Z a-z 0-9 . _ : -, never an ID number (it is kept in clear)"
        raise Problem("invalid-request", f"{IDEMPOTENCY_KEY}: {detail}",
                      errors=[{"parameter": IDEMPOTENCY_KEY, "detail": detail}])
    context = issuance_context()
    try:
        certificate, replayed = issued_or_replayed(context, citizen.name, citizen.id_number, body["proof"],
                                                   body["purpose"], idempotency_key=key)
    except RequestIdConflict as conflict:
        raise Problem("conflict", str(conflict),
                      headers={"Retry-After": str(conflict.retry_after)} if conflict.retry_after else None,
                      errors=[{"parameter": IDEMPOTENCY_KEY, "detail": str(conflict)}]) from None
    except FactNotEstablished as refused:
        raise fact_problem(refused) from None
    view = certificate_view(context.catalog, certificate)
    if replayed:
        return view, 200, {"Location": view["links"]["pdf"], "Idempotent-Replayed": "true"}
    return view, 201, {"Location": view["links"]["pdf"]}


def fact_problem(refused: FactNotEstablished) -> Problem:
    """fact-not-established, with the holder's explanation and the neutral document offered."""
    alternative = refused.alternative
    return Problem("fact-not-established", str(refused), errors=[{"pointer": "#/proof", "detail": refused.refusal_zh}],
                   extensions={"detail_zh": refused.refusal_zh,
                               "alternative": {"code": alternative.code, "name_zh": alternative.name_zh}
                               if alternative else None})


@blp.route("/me/certificates")
@citizen_first
@blp.response(200, CertificateSummarySchema(many=True))
@blp.doc(security=CITIZEN_SECURITY)
def mine() -> list[dict[str, Any]]:
    """My certificates, newest first."""
    citizen = current_citizen()
    catalog = naming_catalog()  # a certificate keeps its issuer's name after a publication drops the code
    return certificate_views(catalog, holder_certificates(db(), runtime().subject_hash_key, citizen.id_number))


@blp.route("/certificates/<path:name>")
@citizen_first
@blp.doc(security=CITIZEN_SECURITY, responses={"200": {"description": "The certificate in one form", "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    "application/jwt": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}}})
def download(name: str) -> Response:
    """One of my certificates as `.pdf`, `.jws` (credential) or `.qr` (QR payload); holder only."""
    identifier, _, kind = name.rpartition(".")
    if kind not in CERTIFICATE_FORMS:
        raise Problem("not-found", "Ask for <identifier>.pdf, .jws or .qr.")
    try:
        certificate = held_certificate(db(), runtime().subject_hash_key, current_citizen().id_number, identifier)
    except CertificateNotFound:
        raise Problem("not-found", "You hold no certificate with this identifier.") from None
    attribute, media_type = CERTIFICATE_FORMS[kind]
    forms = certificate_forms(runtime().keyring.cipher(Purpose.CERTIFICATE_FORMS), certificate)
    response = Response(getattr(forms, attribute), mimetype=media_type)
    if kind in ("pdf", "jws"):  # saved as files (the portal's links): an error page is shown instead
        response.headers["Content-Disposition"] = f'attachment; filename="{identifier}.{kind}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.route("/certificates/<identifier>/revocation", methods=["POST"])
@client_first(ClientScope.CERTIFICATES_REVOKE)
@blp.arguments(RevocationSchema)
@blp.response(200, CertificateSummarySchema)
@blp.doc(security=CLIENT_SECURITY)
def revoke(body: dict[str, str], identifier: str) -> dict[str, Any]:
    """Revoke a certificate your department issued (scope certificates:revoke)."""
    client = require_client(ClientScope.CERTIFICATES_REVOKE)
    signing = status_list_signing(runtime().settings, runtime().seal_settings)
    certificate = revoke_certificate(db(), signing, identifier, client.department_code, body["reason"], utc_now(),
                                     system_actor(client))
    db().commit()
    return certificate_view(naming_catalog(), certificate)


@blp.route(f"/status-lists/<int(max={MAX_LIST_ID}):list_id>")
@blp.doc(responses={"200": {"description": "The signed status list (JWS, typ mianzheng-statuslist+jwt)",
                            "content": {"application/jwt": {"schema": {"type": "string"}}}}, **NOT_MODIFIED})
def status_list(list_id: int) -> Response:
    """A status list, signed: one revocation bit per certificate, or per license version (with the
    reason, superseded or revoked). List 1 holds the first 131,072 certificates and list 2 the
    first 1,048,576 license versions; each further list the next of its kind. A certificate or a
    license version names its list's URL."""
    token = signed_status_list(list_id)
    if token is None:
        raise Problem("not-found", f"状态列表 {list_id} 不存在或尚未签发。")
    return revalidated(Response(token, mimetype="application/jwt"))


@blp.route("/verify", methods=["POST"])
@blp.arguments(VerifyRequestSchema)
@blp.response(200, VerdictSchema)
@blp.alt_response(429, description="Too many verifications from this address; Retry-After says when to try again")
def verify(body: dict[str, str]) -> dict[str, Any]:
    """Verify a certificate: a credential (JWS), a QR payload (MZ2:..., or MZ1:...) or a PDF (base64).

    No authentication; rate-limited per address. The verdict lists one result per check
    (integrity, chain, seal status, issuer, certificate status, validity window, holder binding).
    """
    limit_verification()
    if "pdf_base64" in body:
        form: bytes | str = pdf_from_base64(body["pdf_base64"])
    else:
        form = body.get("credential") or body["qr"]
    return verify_form(form, body.get("id_number")).to_dict()
