"""The verdict pages of the two public verifiers, 电子证明核验 (`/verify`, certificates) and 电子证照核验
(`/verify/licenses`, licenses, 亮证 and usage copies): the verdict as each page shows it, and the
page itself. Each route hands a form of the other kind (a license's PDF brought to the
certificates' page, a certificate's PDF or QR payload to the licenses') to the other's verifier
and page, so the two live here, not in either route module. Input nothing could be read from is
无法读取 on both, never 无效."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import hashes
from flask import Response, make_response, render_template

from api.certificate_services import certificate_status_lists, verify_form
from api.labels import (CHECK_NAMES_ZH, CHECK_STATUS_ZH, LICENSE_CHECK_NAMES_ZH, LICENSE_FORMS_ZH, UNREADABLE_ZH,
                        license_outcome, named_license)
from api.license_services import verify_license_text
from api.live_catalog import live_catalog
from api.runtime import db
from catalog.city_time import SECONDS, beijing_time
from exchange.certificates.model import display_text, format_datetime_zh, parse_time
from exchange.certificates.status_list import REVOCATION_REASONS, signed_at
from exchange.certificates.verdict import CertificateVerdict
from exchange.licenses.verdict import LicenseVerdict
from seals.registry import trust_store
from seals.verdict import Status

FORMS_ZH = {"pdf": "PDF 文件", "credential": "机读凭证", "qr": "二维码内容"}
RESULTS = {
    "valid": ("有效", "VALID", "这是一份真实、有效的电子证明，内容与出具时一致。"),
    "invalid": ("无效", "INVALID", "该电子证明未通过核验，不能作为有效证明使用，原因见下表。"),
    "revoked": ("已撤销", "REVOKED", "该电子证明已被出具单位撤销（原因：{reason}），不能再作为有效证明使用。"),
    "error": ("无法确认", "ERROR", "暂时无法确认该电子证明是否有效，请稍后重试或联系出具单位。"),
    "unreadable": ("无法读取", "UNREADABLE", UNREADABLE_ZH),
}

# --- certificates ------------------------------------------------------------------------

def certificate_verdict_page(form_input: bytes | str, id_number: str | None) -> Response:
    """The page of the verdict on a certificate form (also for one brought to the licenses' page)."""
    verdict = verify_form(form_input, id_number)
    if verdict.form == "unknown":
        return certificate_page(None, "无法识别：所提供的内容不是电子证明（应为电子证明 PDF 文件、机读凭证或以 MZ2:（或 MZ1:）开头的二维码内容）。", 400)
    return certificate_page(_certificate_verdict_view(verdict), None, 200)


def _certificate_verdict_view(verdict: CertificateVerdict) -> dict[str, Any]:
    document = verdict.to_dict()
    result = "revoked" if verdict.revocation_reason else verdict.status.value.lower()
    if any(check["code"] == "malformed" for check in document["checks"]):  # nothing could be read: no verdict on it
        result = "unreadable"
    label_zh, label_en, explanation = RESULTS[result]
    reason = REVOCATION_REASONS.get(verdict.revocation_reason or "unspecified", REVOCATION_REASONS["unspecified"])[0]
    checks = [{"name_zh": CHECK_NAMES_ZH.get(check["check"], check["check"]), "status": check["status"],
               "status_zh": CHECK_STATUS_ZH[Status(check["status"])], "message_zh": check["message_zh"]}
              for check in document["checks"]]
    return {"result": result, "label_zh": label_zh, "label_en": label_en, "explanation": explanation.format(reason=reason),
            "checked_zh": _checked_now(), "form_zh": FORMS_ZH.get(verdict.form, verdict.form), "checks": checks,
            "content": _certificate_content_view(document["content"]) if verdict.valid else None}


def _certificate_content_view(content: dict[str, Any]) -> dict[str, Any]:
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
        beijing_time(min(times), SECONDS)
    return {"root_fingerprint": ":".join(fingerprint[i:i + 2] for i in range(0, len(fingerprint), 2)),
            "status_signed_at": signed}


def certificate_page(verdict: dict[str, Any] | None, error: str | None, status: int,
          headers: dict[str, str] | None = None, pasted: dict[str, str] | None = None,
          scanned: bool = False, error_field: str | None = None, reselect: bool = False) -> Response:
    """The certificates' verification page: its form, with `verdict` or `error` (`error_field`: the
    field at fault, whose error is shown beside it too; `reselect`: a PDF was chosen, which a
    browser never fills in again)."""
    response = make_response(render_template("verify.html", verdict=verdict, error=error, trust=_trust_view(),
                                             pasted=pasted or {}, scanned=scanned, error_field=error_field,
                                             reselect=reselect), status)
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


# --- licenses ----------------------------------------------------------------------------

def license_verdict_page(form: str | bytes, id_number: str | None, nonce: str | None = None) -> Response:
    """The page of the verdict on a license form (also for one brought to the certificates' page)."""
    verdict = verify_license_text(form, id_number, nonce)
    return no_store(make_response(render_template("verify_license.html", verdict=license_verdict_view(verdict), error=None)))


def _checked_now() -> str:
    """When a verdict was given, as the page (and its printout, kept by a bank as its record of
    the check) states it: the answer changes when the document is revoked or expires."""
    return beijing_time(datetime.now(timezone.utc), SECONDS)


def no_store(response: Response) -> Response:
    """A verdict shows the holder's name and items: never kept in a cache or the history's copies."""
    response.headers["Cache-Control"] = "no-store"
    return response


def license_verdict_view(verdict: LicenseVerdict) -> dict[str, Any]:
    document = verdict.to_dict()
    reason = document["revocation_reason"]
    result, explanation = license_outcome(verdict)
    content = document["content"] if verdict.status is Status.VALID else None
    named = named_license(verdict)
    return {
        "label_zh": result[0], "label_en": result[1], "result": result[2], "explanation": explanation,
        "checked_zh": _checked_now(),
        "form_zh": LICENSE_FORMS_ZH[verdict.form],
        "reason_zh": REVOCATION_REASONS.get(reason, REVOCATION_REASONS["unspecified"])[0] if reason else None,
        "checks": [{"name_zh": LICENSE_CHECK_NAMES_ZH.get(c["check"], c["check"]),
                    "status_zh": CHECK_STATUS_ZH[Status(c["status"])], "status": c["status"],
                    "message_zh": c["message_zh"]} for c in document["checks"]],
        "content": content, "items": document["items"] if content else [],
        "identified": named if content is None else None,
        "usage": {**document["usage"], "valid_until_zh": format_datetime_zh(parse_time(document["usage"]["valid_until"]))}
        if content and document["usage"] else None,
    }
