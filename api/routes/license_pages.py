"""E-license pages (Chinese): the holder's wallet (我的证照, `/portal/licenses`) with 亮证 — choose
the items to show and get a QR code valid for a few minutes, and download a version as a sealed
PDF — and the verifier's page for a license presentation, credential or usage copy, pasted or
as a PDF (`/verify/licenses`).

Pages only: they call the same functions as the JSON API (`api.presenters.license_view`,
`api.license_services.show_license`, `api.license_services.verify_license_text`), under the same
rate limit for verification.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, make_response, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from api.form_tokens import form_token_valid
from api.holder_input import HOLDER_ID_NUMBER_INVALID_ZH, typed_id_number
from api.license_services import library, show_license, verify_license_text
from api.portal_session import citizen_page, signed_in_citizen, signed_out_page
from api.presenters import license_view, pdf_response, qr_svg
from api.rate_limit import limit_verification
from api.runtime import db, runtime
from api.verdict_pages import certificate_verdict_page, license_verdict_page, license_verdict_view, no_store
from catalog.errors import InvalidIdentifier
from catalog.model import Subject
from exchange.certificates.credential import claims_certificate_type
from exchange.certificates.verify import FORM_QR, is_pdf, read_form
from exchange.errors import InvalidInput
from exchange.licenses.documents import holder_license_pdf
from exchange.licenses.nonces import REFERENCE_CHARS, kept_presentation
from exchange.licenses.presentation import DEFAULT_MINUTES, VERIFIER_NONCE, VERIFIER_NONCE_ZH
from exchange.licenses.service import (IN_FORCE, REPLACED, SEAL_REVOKED, LicenseConflict, LicenseNotFound,
                                       LicenseReplaced, ensure_not_replaced, held_version,
                                       holder_licenses, holder_state)
from exchange.identity import CitizenIdentity
from exchange.licenses.verdict import is_license_form

bp = Blueprint("license_pages", __name__)


@bp.route("/portal/licenses")
def wallet() -> Response:
    """我的证照: the holder's licenses with their items, and a 亮证 form for each valid one."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    return citizen_page("portal_licenses.html", citizen, licenses=_held(citizen), minutes=DEFAULT_MINUTES)


def _held(citizen: CitizenIdentity) -> list[dict[str, Any]]:
    lib = library()
    return [license_view(lib, record, version)
            for record, version in holder_licenses(db(), lib.hash_key, Subject.PERSON, citizen.id_number)]


@bp.route("/portal/licenses/<identifier>/pdf")
def download_pdf(identifier: str) -> Response:
    """The license version as a PDF sealed by its issuer (the holder's own only, while neither
    revoked nor superseded)."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    lib = library()
    try:
        _record, version = held_version(db(), lib.hash_key, Subject.PERSON, citizen.id_number, identifier)
    except LicenseNotFound:
        return _message(citizen, "您没有这本证照。", 404)
    try:
        return pdf_response(holder_license_pdf(db(), lib, version), version.identifier)
    except LicenseReplaced as replaced:
        return _message(citizen, replaced_zh(replaced) + "不能下载盖章文件。", 409)
    except LicenseConflict:
        return _message(citizen, "这本证照已被撤销或已换发新版本，不能下载盖章文件。", 409)


@bp.route("/portal/licenses/<identifier>/presentation", methods=["POST"])
def present(identifier: str) -> Response:
    """亮证: the chosen items as a QR code and text, valid for a few minutes."""
    citizen = signed_in_citizen()
    if citizen is None:
        return signed_out_page()
    lib = library()
    try:
        record, version = held_version(db(), lib.hash_key, Subject.PERSON, citizen.id_number, identifier)
    except LicenseNotFound:
        return _message(citizen, "您没有这本证照。", 404)
    if not form_token_valid():
        return _message(citizen, "页面已过期或来源不明，请刷新页面后重新提交。", 400)
    state = holder_state(db(), lib, version, datetime.now(timezone.utc))
    items = request.form.getlist("items")
    nonce = request.form.get("nonce", "").strip() or None
    refused = functools.partial(_message, citizen, refused_at=Refused(identifier, items, nonce or ""))
    if state == REPLACED:
        try:
            ensure_not_replaced(db(), lib, version, datetime.now(timezone.utc))
        except LicenseReplaced as replaced:
            return refused(replaced_zh(replaced) + "不能亮证。", 409)
    if state != IN_FORCE:
        return refused(_NOT_SHOWN.get(state, "这本证照已换发新版本或已被撤销，不能亮证。"), 409)
    if not items:
        return refused("请至少选择一项要出示的内容。", 400)
    if nonce is not None and not VERIFIER_NONCE.match(nonce):
        return refused(VERIFIER_NONCE_ZH, 400)
    try:
        shown, reference = show_license(lib, version, items, nonce=nonce)
    except InvalidInput:
        return refused("所选内容不在这本证照上。", 400)
    link = runtime().settings.public_url + url_for("license_pages.verify", p=reference)  # never the request's Host
    view = license_view(lib, record, version)
    chosen = [item for item in view["items"] if item["name"] in items]
    return citizen_page("portal_presentation.html", citizen, license=view, items=chosen, presentation=shown.text,
                        link=link, qr=qr_svg(link), expires_at=shown.expires_at)


def replaced_zh(replaced: LicenseReplaced) -> str:
    """Why a `REPLACED` license is neither shown nor sealed again, as its holder reads it."""
    return (f"您有一本登记在后的{replaced.later_name_zh}，这本{replaced.name_zh}所载的{replaced.proof_zh}"
            "已不是现在的情况，")


_NOT_SHOWN = {"expired": "这本证照已过期，不能亮证。", "not_yet_valid": "这本证照尚未生效，不能亮证。",
              SEAL_REVOKED: "发证机关的电子印章已被吊销，这本证照须由发证机关重新签发后才能亮证。"}


@bp.route("/verify/licenses", methods=["GET", "POST"])
def verify() -> Response:
    """The form; on POST, the verdict on a presentation, credential or usage copy. A 亮证 QR code's
    link (`?p=<reference>`) opens a page whose 核验 button posts the reference: opening the link
    (a reload, a chat app's link preview, a browser's prefetch) uses nothing up; the one-time
    check happens when the verifier asks for the verdict. A verifier that gave the holder a
    nonce types it in (`nonce`): a presentation made with another is refused."""
    from exchange.certificates.pdf import ATTACHMENT_NAME, carries  # the PDF stack loads on first use

    if request.method == "GET":
        return no_store(make_response(render_template("verify_license.html", verdict=None, error=None,
                                                       reference=request.args.get("p", "")[:REFERENCE_CHARS])))
    limit_verification()
    try:  # the form is read here first: a body beyond the limit is refused in this page's words, with its form
        nonce = request.form.get("nonce", "").strip() or None
    except RequestEntityTooLarge:
        return no_store(make_response(render_template(
            "verify_license.html", verdict=None, error="提交的内容过大：电子证照或加注件的 PDF 文件不超过 2 MiB。"), 413))
    if nonce is not None and not VERIFIER_NONCE.match(nonce):
        return no_store(make_response(render_template("verify_license.html", verdict=None, error=VERIFIER_NONCE_ZH,
                                                       reference=request.form.get("p", "")[:REFERENCE_CHARS]), 400))
    if reference := request.form.get("p", ""):
        text = kept_presentation(db(), library().box, reference, datetime.now(timezone.utc))
        if text is None:
            return no_store(make_response(render_template("verify_license.html", verdict=None,
                                                           error="该亮证已过期或不存在，请持证人重新亮证。"), 404))
        return no_store(make_response(render_template("verify_license.html", verdict=license_verdict_view(
            verify_license_text(text, None, nonce)), error=None)))
    upload = request.files.get("file")
    form: str | bytes = upload.read() if upload is not None and upload.filename else \
        request.form.get("license", "").strip()
    if not form or len(form) > 4_000_000 or (isinstance(form, bytes) and not is_pdf(form)):
        return no_store(make_response(render_template(
            "verify_license.html", verdict=None,
            error="请粘贴亮证内容、电子证照凭证或加注件，或上传电子证照、加注件的 PDF 文件。"), 400))
    try:
        id_number = typed_id_number(request.form.get("id_number", ""))
    except InvalidIdentifier:  # what was pasted stays in the form; the number typed is not echoed
        return no_store(make_response(render_template("verify_license.html", verdict=None, error=HOLDER_ID_NUMBER_INVALID_ZH,
                                                       error_field="id_number", reselect=isinstance(form, bytes),
                                                       pasted=form if isinstance(form, str) else ""), 400))
    if not is_license_form(form) and (read_form(form)[0] == FORM_QR or (
            isinstance(form, bytes) and carries(form, ATTACHMENT_NAME)) or (
            isinstance(form, str) and claims_certificate_type(form))):  # a certificate brought here is checked as
        # the certificate it is (a PDF by its attachment, a pasted JWS by its header: a usage copy is a JWS too);
        # a PDF that reads as neither is a license's page that could not be read
        return certificate_verdict_page(form, id_number)
    return license_verdict_page(form, id_number, nonce)


@dataclass(frozen=True)
class Refused:
    """A 亮证 refused: of which license, with what the holder chose (shown again as chosen)."""

    identifier: str
    items: list[str]
    nonce: str


def _message(citizen: CitizenIdentity, text: str, status: int, refused_at: Refused | None = None) -> Response:
    """我的证照 with the reason a 亮证 was not made, with the holder's licenses as they stand: in
    the section of the license refused (its choice kept, the page opening there), or above all."""
    response = citizen_page("portal_licenses.html", citizen, licenses=_held(citizen), minutes=DEFAULT_MINUTES,
                            error=text, refused=refused_at)
    response.status_code = status
    return response
