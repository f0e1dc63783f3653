"""The city's published trust material, public and read-only, at stable URLs: the root
certificate, every seal certificate (active and past), seal images, a JWKS, the CRL and the
signed list of who issues what; and the access log's head signed by the exchange's seal, which
anyone may keep to hold the city to its log.

A verifier needs nothing else to check a signature offline; `mianzheng seal export-trust`
writes the same material to files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Response, json, url_for

from api.openapi import Blueprint
from api.live_catalog import live_catalog, published_catalog_documents
from api.presenters import NOT_MODIFIED, revalidated
from api.problems import Problem
from api.runtime import db, plain_db, runtime
from exchange.access_log import chain_head
from exchange.access_log_heads import make_durable, sign_head
from exchange.certificates.issuer_list import sign_issuer_list
from exchange.held_seals import signed_under_held_seal
from exchange.unit_of_work import UnitOfWork
from seals.ca import utc_now
from seals.keys import Signer
from seals.registry import Seal, list_seals, trust_store
from seals.trust import TrustStore

blp = Blueprint("trust", __name__, url_prefix="/api/v1/trust",
                description="Trust material: city root, seal certificates, JWKS, CRL (public)")

PEM = "application/x-pem-file"
CACHE_SECONDS = 300


def _raw(body: bytes | str, media_type: str) -> Response:
    response = Response(body, mimetype=media_type)
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response


def _revocable(body: bytes | str, media_type: str) -> Response:
    """What a revocation changes (the CRL, the JWKS): revalidated on every use, as a status list is."""
    return revalidated(Response(body, mimetype=media_type))


def _document(media_type: str, description: str, schema: dict[str, Any] | None = None, *,
              revocable: bool = False) -> dict[str, Any]:
    """The OpenAPI answers of a trust document; `revocable`: answered conditionally (`_revocable`)."""
    return {"responses": {"200": {"description": description,
                                  "content": {media_type: {"schema": schema or {"type": "string"}}}},
                          **(NOT_MODIFIED if revocable else {})}}


JWK_SET_SCHEMA = {
    "type": "object",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {
        "type": "object", "required": ["kty"],
        "properties": {"kty": {"type": "string"}, "kid": {"type": "string"}, "crv": {"type": "string"},
                       "x": {"type": "string"}, "y": {"type": "string"},
                       "x5c": {"type": "array", "items": {"type": "string"}}}}}},
}
"""A JWK Set (RFC 7517 §5), as `/jwks.json` publishes it."""


class SealInfoSchema(ma.Schema):
    department_code = ma.fields.String()
    department_name = ma.fields.String()
    uscc = ma.fields.String()
    purpose_zh = ma.fields.String()
    kid = ma.fields.String(metadata={"description": "base64url SHA-256 thumbprint of the certificate"})
    serial_hex = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["active", "superseded", "revoked", "expired"]})
    not_before = ma.fields.DateTime()
    not_after = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)
    revocation_reason = ma.fields.String(allow_none=True)
    certificate_url = ma.fields.String()
    image_url = ma.fields.String()
    exchange = ma.fields.Boolean(metadata={
        "description": "A seal of the exchange (`exchange-uscc.txt`): the only seal whose signature makes a receipt, "
                       "a status list, an issuer list or a signed access-log head"})


def _seal_info(seal: Seal) -> dict[str, Any]:
    return {
        **{field: getattr(seal, field) for field in (
            "department_code", "department_name", "uscc", "purpose_zh", "kid", "serial_hex",
            "not_before", "not_after", "revoked_at", "revocation_reason")},
        "status": seal.status_at(utc_now()).value,
        "certificate_url": url_for("trust.seal_certificate", kid=seal.kid),
        "image_url": url_for("trust.seal_image", kid=seal.kid),
        "exchange": seal.department_code == runtime().settings.exchange_department,
    }


@blp.route("/root.pem")
@blp.doc(**_document(PEM, "The city root certificate"))
def root_certificate() -> Response:
    """The city root certificate (PEM): the one thing a verifier must trust."""
    return _raw(_trust().root.public_bytes(Encoding.PEM), PEM)


@blp.route("/crl")
@blp.doc(**_document("application/pkix-crl", "The CRL (DER)", revocable=True))
def crl_der() -> Response:
    """The certificate revocation list signed by the city root (DER)."""
    return _revocable(_crl().public_bytes(Encoding.DER), "application/pkix-crl")


@blp.route("/crl.pem")
@blp.doc(**_document(PEM, "The CRL (PEM)", revocable=True))
def crl_pem() -> Response:
    """The same CRL, PEM-encoded."""
    return _revocable(_crl().public_bytes(Encoding.PEM), PEM)


@blp.route("/jwks.json")
@blp.doc(**_document("application/jwk-set+json", "Every seal's public key", JWK_SET_SCHEMA, revocable=True))
def jwks() -> Response:
    """A JWK Set of every seal key (active and past, not those revoked for key or CA compromise)
    with kid and x5c chain."""
    return _revocable(json.dumps(_trust().jwks()), "application/jwk-set+json")


@blp.route("/seals")
@blp.response(200, SealInfoSchema(many=True))
def seals() -> list[dict[str, Any]]:
    """Every department seal with its status and validity, newest first per department."""
    return [_seal_info(seal) for seal in list_seals(db())]


@blp.route("/exchange-uscc.txt")
@blp.doc(**_document("text/plain", "The exchange's credit code (USCC), one line"))
def exchange_uscc() -> Response:
    """The exchange's unified social credit code, as `mianzheng seal export-trust` writes it for
    offline verifiers: a receipt, a status list or an issuer list counts only when signed by a
    seal whose certificate names it (organizationIdentifier `NTRCN-<USCC>`)."""
    department = live_catalog().catalog.departments[runtime().settings.exchange_department]
    return _raw(department.uscc + "\n", "text/plain")


@blp.route("/seals/<kid>.pem")
@blp.doc(**_document(PEM, "A seal certificate"))
def seal_certificate(kid: str) -> Response:
    """One seal certificate by kid."""
    return _raw(_seal(kid).certificate_pem, PEM)


@blp.route("/seals/<kid>.png")
@blp.doc(**_document("image/png", "The seal image"))
def seal_image(kid: str) -> Response:
    """The seal's image as PNG."""
    from seals.seal_image import SealText, seal_png  # the PDF stack (reportlab, pyHanko) loads on first use

    seal = _seal(kid)
    return _raw(seal_png(SealText(seal.department_name, seal.purpose_zh)), "image/png")


class SignedHeadSchema(ma.Schema):
    seq = ma.fields.Integer(metadata={"description": "The newest entry's sequence number"})
    entry_hash = ma.fields.String(metadata={"description": "Its SHA-256 entry hash (hex)"})
    signed_at = ma.fields.DateTime()
    signed_head = ma.fields.String(metadata={
        "description": "JWS (ES256, x5c = the exchange's seal chain, typ mianzheng-log-head+jwt) over "
                       "{seq, entry_hash, iat}; keep it, and check it later with "
                       "`mianzheng audit verify --signed-head FILE --trust DIR`"})


@blp.route("/access-log-head")
@blp.response(200, SignedHeadSchema)
def access_log_head() -> Response:
    """The access log's newest entry, signed now by the exchange's seal (never cached). Whoever
    keeps it can later prove that the log still holds that entry unchanged, and everything before it."""
    session = db()
    head = chain_head(session)
    if head is None:
        raise Problem("not-found", "The access log has no entries yet.")
    make_durable(runtime().engine, head)  # the entry named is on disk before it is signed
    signed = signed_under_held_seal(UnitOfWork(runtime().sessions), runtime().seal_settings,
                                    runtime().settings.exchange_department,
                                    lambda signer: sign_head(head, signer, now=utc_now()))
    response = Response(json.dumps({"seq": head.seq, "entry_hash": head.entry_hash,
                                    "signed_at": signed.signed_at.isoformat(), "signed_head": signed.token}),
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


class IssuerListSchema(ma.Schema):
    signed_at = ma.fields.DateTime()
    issuer_list = ma.fields.String(metadata={
        "description": "JWS (ES256, x5c = the exchange's seal chain, typ mianzheng-issuers+jwt) over "
                       "{iat, catalogs: [<catalog document>, ...]}: every catalog published so far, oldest "
                       "first, from which an offline verifier tells which department issues which kind of "
                       "document under which name, and how a certificate of each proof reads; "
                       "`mianzheng seal export-trust` writes it as issuers.jws"})


@blp.route("/issuers")
@blp.response(200, IssuerListSchema)
def issuer_list() -> Response:
    """Every catalog published, signed now by the exchange's seal: an offline verifier checks with
    it that a genuine seal made only what its department issues, as the catalogs word it."""
    catalogs = published_catalog_documents(plain_db())

    def signed(signer: Signer) -> tuple[datetime, str]:
        now = utc_now()
        return now, sign_issuer_list(catalogs, signer, now=now)

    now, token = signed_under_held_seal(UnitOfWork(runtime().sessions), runtime().seal_settings,
                                        runtime().settings.exchange_department, signed)
    return _raw(json.dumps({"signed_at": now.replace(microsecond=0).isoformat(), "issuer_list": token}),
                "application/json")


def _trust() -> TrustStore:
    return trust_store(db())


def _crl() -> x509.CertificateRevocationList:
    crl = _trust().crl
    if crl is None:
        raise Problem("not-found", "No CRL has been signed yet: the seal officer runs mianzheng seal crl.")
    return crl


def _seal(kid: str) -> Seal:
    found = next((seal for seal in list_seals(db()) if seal.kid == kid), None)
    if found is None:
        raise Problem("not-found", f"No seal has kid {kid!r}.")
    return found
