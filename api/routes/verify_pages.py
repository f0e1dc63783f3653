"""The public verifier page (电子证明核验, `/verify`): upload a PDF, paste a credential or paste
(or scan) a QR payload, optionally type the holder's ID number, and read the verdict.

It calls `api.certificate_services.verify_form`, as `POST /api/v1/verify` does, under the same
rate limit (`api.rate_limit.limit_verification`), and shows the result (`api.verdict_pages`), one row
per check and, only for a valid certificate, its content; a license brought here gets the license
verdict. The ID number typed in is passed to the holder check and nowhere
else: it is not shown again, stored or logged.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.holder_input import HOLDER_ID_NUMBER_INVALID_ZH, typed_id_number
from api.problems import Problem
from api.rate_limit import limit_verification
from api.verdict_pages import certificate_page, certificate_verdict_page, license_verdict_page
from catalog.errors import InvalidIdentifier
from exchange.licenses.verdict import is_license_form

bp = Blueprint("verify_pages", __name__)


class _BadInput(Exception):
    """Nothing, or more than one form, or a malformed holder ID number was submitted (`field`:
    the form field at fault, if one is)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@bp.route("/v")
def scanned() -> Response:
    """Where a certificate's QR code leads (`/v#MZ2:…`; `/v#MZ1:…` on certificates printed
    before): the page verifies the payload in the fragment at once (the browser never sends the
    fragment; the page posts it as the QR form). Without script, the page says how to paste it."""
    return certificate_page(None, None, 200, scanned=True)


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Response:
    """The form; on POST, the verdict on what was submitted."""
    if request.method == "GET":
        return certificate_page(None, None, 200)
    try:
        limit_verification()
    except Problem as limited:
        return certificate_page(None, "核验请求过于频繁，请稍后再试。", 429, limited.headers)
    try:
        form_input = _submitted()
        id_number = _holder_id_number()
    except RequestEntityTooLarge:
        return certificate_page(None, "提交的内容过大：电子证明 PDF 文件不超过 2 MiB。", 413)
    except _BadInput as bad:  # what was pasted stays in the form (the ID number typed is not echoed)
        upload = request.files.get("pdf")
        return certificate_page(None, str(bad), 400, pasted={name: request.form.get(name, "") for name in ("credential", "qr")},
                                error_field=bad.field, reselect=bool(upload and upload.filename))
    if is_license_form(form_input):  # the site links this page everywhere: a license is checked as one
        return license_verdict_page(form_input, id_number)
    return certificate_verdict_page(form_input, id_number)


def _holder_id_number() -> str | None:
    """The optional holder ID number typed in; a malformed one is an input error, not a reason
    to call a genuine certificate invalid."""
    try:
        return typed_id_number(request.form.get("id_number", ""))
    except InvalidIdentifier:
        raise _BadInput(HOLDER_ID_NUMBER_INVALID_ZH, "id_number") from None


def _qr_payload(text: str) -> str:
    """What the QR field holds, or, when it holds the address a certificate's QR code opens
    (pasted from a browser that runs no script), that address's fragment: its escapes are
    decoded where every pasted payload's are (`qr_payload.as_pasted`), once its lines are
    joined, so a line break an e-mail put inside an escape does not leave it undecoded."""
    scanned = _SCANNED_ADDRESS.fullmatch(text)
    return scanned[1] if scanned else text


_SCANNED_ADDRESS = re.compile(r"https?://[^#\s]*/v#(MZ[12]:.*)", re.DOTALL)


def _submitted() -> bytes | str:
    upload = request.files.get("pdf")
    forms: list[bytes | str] = [
        form for form in (upload.read() if upload else b"", request.form.get("credential", "").strip(),
                          _qr_payload(request.form.get("qr", "").strip())) if form
    ]
    if not forms:
        raise _BadInput("请上传电子证明 PDF 文件，或粘贴机读凭证、二维码内容。")
    if len(forms) > 1:
        raise _BadInput("请只提供一种形式：PDF 文件、机读凭证、二维码内容三选一。")
    return forms[0]
