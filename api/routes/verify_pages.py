"""The public verifier page (电子证明验证, `/verify`): upload a PDF, paste a credential or paste
(or scan) a QR payload, optionally type the holder's ID number, and read the verdict.

It calls `api.certificate_services.verify_form`, as `POST /api/v1/verify` does, under the same
rate limit (`api.rate_limit.limit_verification`), and shows the result, one row per check and, only for a valid
certificate, its content. The ID number typed in is passed to the holder check and nowhere
else: it is not shown again, stored or logged.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives import hashes

from flask import Blueprint, Response, make_response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.certificate_services import certificate_status_lists, verify_form
from api.holder_input import HOLDER_ID_NUMBER_INVALID_ZH, typed_id_number
from api.labels import CHECK_NAMES_ZH, CHECK_STATUS_ZH
from api.live_catalog import live_catalog
from api.problems import Problem
from api.rate_limit import limit_verification
from api.runtime import db
from catalog.city_time import beijing_time
from catalog.errors import InvalidIdentifier
from exchange.certificates.model import display_text, format_datetime_zh, parse_time
from exchange.certificates.status_list import REVOCATION_REASONS, signed_at
from exchange.certificates.verdict import CertificateVerdict
from seals.registry import trust_store
from seals.verdict import Status

bp = Blueprint("verify_pages", __name__)

FORMS_ZH = {"pdf": "PDF 文件", "credential": "机读凭证", "qr": "二维码内容"}
RESULTS = {
    "valid": ("有效", "VALID", "这是一份真实、有效的电子证明，内容与出具时一致。"),
    "invalid": ("无效", "INVALID", "该电子证明未通过验证，不能作为有效证明使用，原因见下表。"),
    "revoked": ("已撤销", "REVOKED", "该电子证明已被出具单位撤销（原因：{reason}），不能再作为有效证明使用。"),
    "error": ("无法确认", "ERROR", "暂时无法确认该电子证明是否有效，请稍后重试或联系出具单位。"),
}


class _BadInput(Exception):
    """Nothing, or more than one form, or a malformed holder ID number was submitted."""


@bp.route("/v")
def scanned() -> Response:
    """Where a certificate's QR code leads (`/v#MZ2:…`; `/v#MZ1:…` on certificates printed
    before): the page verifies the payload in the fragment at once (the browser never sends the
    fragment; the page posts it as the QR form). Without script, the page says how to paste it."""
    return _page(None, None, 200, scanned=True)


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Response:
    """The form; on POST, the verdict on what was submitted."""
    if request.method == "GET":
        return _page(None, None, 200)
    try:
        limit_verification()
    except Problem as limited:
        return _page(None, "验证请求过于频繁，请稍后再试。", 429, limited.headers)
    try:
        form_input = _submitted()
        id_number = _holder_id_number()
    except RequestEntityTooLarge:
        return _page(None, "提交的内容过大：电子证明 PDF 文件不超过 2 MiB。", 413)
    except _BadInput as bad:  # what was pasted stays in the form (the ID number typed is not echoed)
        return _page(None, str(bad), 400, pasted={name: request.form.get(name, "") for name in ("credential", "qr")})
    verdict = verify_form(form_input, id_number)
    if verdict.form == "unknown":
        return _page(None, "无法识别：所提供的内容不是电子证明（应为电子证明 PDF 文件、机读凭证或以 MZ2:（或 MZ1:）开头的二维码内容）。", 400)
    return _page(_verdict_view(verdict), None, 200)


def _holder_id_number() -> str | None:
    """The optional holder ID number typed in; a malformed one is an input error, not a reason
    to call a genuine certificate invalid."""
    try:
        return typed_id_number(request.form.get("id_number", ""))
    except InvalidIdentifier:
        raise _BadInput(HOLDER_ID_NUMBER_INVALID_ZH) from None


def _qr_payload(text: str) -> str:
    """What the QR field holds, or, when it holds the address a certificate's QR code opens
    (pasted from a browser that runs no script), the payload in that address's fragment, whose
    characters the address percent-encodes."""
    scanned = _SCANNED_ADDRESS.fullmatch(text)
    return unquote(scanned[1]) if scanned else text


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


def _verdict_view(verdict: CertificateVerdict) -> dict[str, Any]:
    document = verdict.to_dict()
    result = "revoked" if verdict.revocation_reason else verdict.status.value.lower()
    label_zh, label_en, explanation = RESULTS[result]
    reason = REVOCATION_REASONS.get(verdict.revocation_reason or "unspecified", REVOCATION_REASONS["unspecified"])[0]
    checks = [{"name_zh": CHECK_NAMES_ZH.get(check["check"], check["check"]), "status": check["status"],
               "status_zh": CHECK_STATUS_ZH[Status(check["status"])], "message_zh": check["message_zh"]}
              for check in document["checks"]]
    return {"result": result, "label_zh": label_zh, "label_en": label_en, "explanation": explanation.format(reason=reason),
            "form_zh": FORMS_ZH.get(verdict.form, verdict.form), "checks": checks,
            "content": _content_view(document["content"]) if verdict.valid else None}


def _content_view(content: dict[str, Any]) -> dict[str, Any]:
    """What the certificate says, in Chinese; the QR form carries raw values, labelled from the catalog."""
    proof = live_catalog().catalog.proofs.get(content["proof"]["code"])
    items = {item.name: item for item in proof.data_items} if proof else {}
    fields = []
    for field in content["fields"]:
        item = items.get(field["name"])
        if "text_zh" in field:
            fields.append((field["label_zh"], field["text_zh"]))
        elif item is not None:
            fields.append((item.name_zh, display_text(item, field["value"])))
        else:
            fields.append((field["name"], str(field["value"])))
    times = {key: format_datetime_zh(parse_time(content[key])) if content[key] else None
             for key in ("issued_at", "valid_from", "valid_until", "as_of")}
    return {"identifier": content["identifier"], "proof": content["proof"]["name_zh"], "holder": content["holder"]["name"],
            "id_masked": content["holder"]["id_masked"], "issuer": content["issuer"]["name_zh"],
            "uscc": content["issuer"]["uscc"], "purpose": content["purpose"], "statement": content.get("statement_zh"),
            "fields": fields, **times}


def _trust_view() -> dict[str, str]:
    """The city root's SHA-256 fingerprint and since when every status list is signed (the oldest
    signing, Beijing time)."""
    lists = certificate_status_lists()
    times = [time for time in map(signed_at, lists) if time is not None]
    fingerprint = trust_store(db()).root.fingerprint(hashes.SHA256()).hex().upper()
    signed = "尚未签发" if not lists else "无法读取" if len(times) < len(lists) else \
        beijing_time(min(times), "%Y-%m-%d %H:%M:%S")
    return {"root_fingerprint": ":".join(fingerprint[i:i + 2] for i in range(0, len(fingerprint), 2)),
            "status_signed_at": signed}


def _page(verdict: dict[str, Any] | None, error: str | None, status: int,
          headers: dict[str, str] | None = None, pasted: dict[str, str] | None = None,
          scanned: bool = False) -> Response:
    response = make_response(render_template("verify.html", verdict=verdict, error=error, trust=_trust_view(),
                                             pasted=pasted or {}, scanned=scanned), status)
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response
