"""How records are shown: the one view of each that the JSON API and the Chinese pages share, so
a route never borrows another route's function and both always show the same thing.

A view is a plain dict (the API's schemas dump it; the templates read it). A code in a statistics
selection that the live catalog does not have is `UnknownCode` naming the parameter: the API
answers it as a 400, the dashboard as a message on its form.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import Response, request, url_for
from werkzeug.http import http_date

from api.counted_statistics import CityStatistics
from api.live_catalog import live_catalog
from api.runtime import db, runtime
from catalog.model import Catalog, Department, Matter, Subject
from exchange.applications.statistics import Selection, check_selection
from exchange.certificate_records import CertificateStatus, IssuedCertificate, certificate_forms
from exchange.consent import Consent, consented_name_zh
from exchange.keyring import Purpose, SealedRecordAltered
from exchange.licenses.content import printed_items
from exchange.licenses.presentation import Presentation
from exchange.licenses.records import LicenseRecord, LicenseVersionRecord
from exchange.licenses.service import (ALTERED, REPLACED, LicenseLibrary, holder_state, replacing_license,
                                       stored_content, versions_of)
from seals.compromise import compromised_seals

log = logging.getLogger(__name__)

CERTIFICATE_FORMS = {"pdf": ("pdf", "application/pdf"), "jws": ("credential", "application/jwt"),
                     "qr": ("qr_payload", "text/plain")}
"""A certificate's downloadable forms: file extension -> (`CertificateForms` attribute, media type)."""

HOLDER_ENDPOINTS = {Subject.PERSON: ("licenses.credential", "licenses.held_pdf", "licenses.present"),
                    Subject.ORGANISATION: ("org_licenses.credential", "org_licenses.held_pdf", "org_licenses.present")}
"""The holder's own links of a license: credential, PDF, presentations — a person's or an organisation's."""


def certificate_views(catalog: Catalog, certificates: list[IssuedCertificate]) -> list[dict[str, Any]]:
    """`certificate_view` of each of a holder's certificates, saying which were sealed with a seal
    since revoked for key compromise (`seal_revoked`: every verifier calls them 无效)."""
    compromised = compromised_seals(db())
    box = runtime().keyring.cipher(Purpose.CERTIFICATE_FORMS)
    return [certificate_view(catalog, certificate, seal_revoked=certificate.status == CertificateStatus.VALID
                             and compromised.signed(certificate.issuer_department, certificate.issued_at,
                                                    lambda certificate=certificate:
                                                    certificate_forms(box, certificate).credential))
            for certificate in certificates]


def certificate_view(catalog: Catalog, certificate: IssuedCertificate, *, seal_revoked: bool = False) -> dict[str, Any]:
    """A certificate as the API and the portal show it; `status` is `seal_revoked` when it was
    sealed with a seal since revoked for key compromise (the caller says so: `certificate_views`)."""
    proof = catalog.proofs.get(certificate.proof_code)
    return {
        "identifier": certificate.identifier,
        "proof": certificate.proof_code,
        "proof_name_zh": proof.name_zh if proof else certificate.proof_code,
        **_issuer(catalog, certificate.issuer_department, certificate.issuer_department),
        "purpose": certificate.purpose,
        "issued_at": certificate.issued_at,
        "valid_until": certificate.valid_until,
        "status": "seal_revoked" if seal_revoked else certificate.status,
        "revoked_at": certificate.revoked_at,
        "revocation_reason": certificate.revocation_reason,
        "links": {kind: url_for("certificates.download", name=f"{certificate.identifier}.{kind}")
                  for kind in CERTIFICATE_FORMS},
    }


def consent_view(catalog: Catalog, consent: Consent) -> dict[str, Any]:
    """A consent as the API and the portal's 我的授权 page show it."""
    matter = catalog.matters.get(consent.matter)
    department = catalog.departments.get(consent.consumer_department)
    return {
        "id": consent.id,
        "matter": consent.matter,
        "matter_name_zh": matter.name_zh if matter else None,
        "proofs": consent.proofs,
        "proof_names_zh": [consented_name_zh(catalog, code) for code in consent.proofs],
        "department": consent.consumer_department,
        "department_name_zh": department.name_zh if department else None,
        "channel": consent.channel,
        "granted_at": consent.granted_at,
        "expires_at": consent.expires_at,
        "withdrawn_at": consent.withdrawn_at,
        "status": consent.status(datetime.now(timezone.utc)).value,
        "ends_with_application": consent.application_id is not None,
    }


def license_view(lib: LicenseLibrary, record: LicenseRecord, version: LicenseVersionRecord) -> dict[str, Any]:
    """A license as its holder and its issuer see it (`status`: `holder_state`); `ALTERED`, with
    what its rows and the catalog say of it and nothing of its content, if its sealed credential
    no longer opens, so that one altered license does not hide its holder's others."""
    try:
        return _readable_license_view(lib, record, version)
    except SealedRecordAltered as altered:
        log.error("license version %s is listed as altered: %s", version.identifier, altered)
        license_type = lib.catalog.licenses.get(record.license_type)
        return {"identifier": version.identifier, "license_type": record.license_type,
                "license_name_zh": license_type.name_zh if license_type else record.license_type,
                **_issuer(lib.catalog, record.issuer_department, record.issuer_department), "status": ALTERED,
                "version": version.version, "items": [], "versions": versions_of(db(), record), "links": {}}


def _readable_license_view(lib: LicenseLibrary, record: LicenseRecord,
                           version: LicenseVersionRecord) -> dict[str, Any]:
    catalog = lib.catalog
    content = stored_content(lib, version)
    license_type = catalog.licenses.get(record.license_type)
    status = holder_state(db(), lib, version, datetime.now(timezone.utc))
    newer = replacing_license(db(), lib, record, datetime.now(timezone.utc)) if status == REPLACED else None
    return {
        "identifier": version.identifier,
        "license_type": record.license_type,
        "license_name_zh": license_type.name_zh if license_type else content.license_name_zh,
        **_issuer(catalog, record.issuer_department, content.issuer.name_zh),
        "holder_name": content.holder_name,
        "holder_id_masked": content.holder_id_masked,
        "status": status,
        **({"replaced_by": newer.license_type, "replaced_by_name_zh": catalog.licenses[newer.license_type].name_zh}
           if newer is not None else {}),
        "version": version.version,
        "items": printed_items(license_type, content.items),
        "versions": versions_of(db(), record),
        "links": dict(zip(("credential", "pdf", "presentations"), (
            url_for(endpoint, identifier=version.identifier) for endpoint in
            HOLDER_ENDPOINTS[Subject(record.holder_kind)]))),
    }


def presentation_view(shown: Presentation, reference: str) -> dict[str, Any]:
    """亮证 as its holder gets it: the text, and the verifier's link (also as a QR code) under
    which it is kept."""
    link = url_for("license_pages.verify", p=reference, _external=True)
    return {"presentation": shown.text, "nonce": shown.nonce, "expires_at": shown.expires_at,
            "reference": reference, "link": link, "qr_svg": qr_svg(link)}


_SVG_SIZE = re.compile(r'<svg width="([0-9]+)" height="([0-9]+)"')


def qr_svg(text: str) -> str | None:
    """The text as an inline SVG QR code (level L, 2 px a module, its quiet zone included), or None
    when it does not fit one (version 40). zxing-cpp loads on first use: the server's other paths
    do without it."""
    import zxingcpp

    try:
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="L")
    except ValueError:
        return None
    document = zxingcpp.write_barcode_to_svg(symbol, scale=2)
    svg = document[document.index("<svg"):]  # inline: without the XML declaration and doctype
    width, height = _SVG_SIZE.search(svg).groups()  # type: ignore[union-attr]
    return svg.replace("<svg ", f'<svg viewBox="0 0 {width} {height}" ', 1)  # so the page may scale it


def revalidated(response: Response) -> Response:
    """`response` (the whole body, as bytes) revalidated on every use, a 304 while unchanged: a
    cache on the way never hides a revocation (a status list, the CRL)."""
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


PDF_RESPONSE = {"200": {"description": "A PDF signed PAdES, with its machine form attached",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}
"""The OpenAPI answer of an operation that returns a sealed PDF (`pdf_response`)."""
NOT_MODIFIED = {"304": {"description": "Not modified: unchanged since the ETag sent in If-None-Match (no body)"}}
"""The OpenAPI answer of an operation that answers conditionally (an ETag; `revalidated`)."""


def pdf_response(pdf: bytes, name: str) -> Response:
    """A sealed PDF as a download, kept by no cache on the way."""
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def counted_statistics() -> CityStatistics:
    """The public statistics as this process last counted them (`api.counted_statistics`)."""
    current = runtime()
    return current.statistics.current(current.sessions)


def counted_headers(counted: CityStatistics) -> dict[str, str]:
    """An answer's word on when its figures were counted."""
    return {"Last-Modified": http_date(counted.counted_at)}


def statistics_view(counted: CityStatistics, args: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of the applications `args` select (parsed by `StatisticsQuerySchema`) in the
    count `counted`, with the Chinese names of matters and departments; `UnknownCode` naming the
    parameter whose code the live catalog does not have."""
    catalog = live_catalog().catalog
    selection = Selection(matter=args.get("matter"), department=args.get("department"),
                          from_month=args.get("from_month"), to_month=args.get("to_month"))
    check_selection(catalog, selection)
    found = counted.paper(selection)
    return {
        "counted_at": counted.counted_at,
        "rows": [{"matter": row.matter, "matter_name_zh": _name_zh(catalog.matters, row.matter),
                  "department": row.department, "department_name_zh": _name_zh(catalog.departments, row.department),
                  "month": row.month, **row.figures.as_dict()} for row in found.rows],
        "totals": found.totals.as_dict(),
        "months": [{"month": month, **figures.as_dict()} for month, figures in found.months],
        "matters": [{"matter": matter, "matter_name_zh": _name_zh(catalog.matters, matter), **figures.as_dict()}
                    for matter, figures in found.matters],
    }


def _issuer(catalog: Catalog, department: str, fallback_zh: str) -> dict[str, str]:
    """The issuing department's code and legal name; `fallback_zh` if the catalog no longer has it."""
    issuer = catalog.departments.get(department)
    return {"issuer": department, "issuer_name_zh": issuer.legal_name_zh if issuer else fallback_zh}


def _name_zh(entries: Mapping[str, Matter | Department], code: str) -> str:
    """The Chinese name of a matter or department; its code if the live catalog no longer has it."""
    entry = entries.get(code)
    return entry.name_zh if entry is not None else code
