"""A license version, or a usage copy (加注件), as a sealed PDF in the style of the e-certificates.

The page (reportlab, A4, the Song face embedded, `invariant=1`) is laid out from the license
type of the catalog: the type's name as title (and its English name), the identifier and the
version (with the identifier it supersedes), the holder (person or organisation), the type's
data items in catalog order with their labels (ID numbers masked), when it was issued, its
validity and legal basis, the issuing department with its round seal, and a QR code that opens
the licenses' verify page. A usage copy prints the items disclosed to the using department and,
in a red box, the use: matter, department, purpose, case number, time and expiry; its seal is
the exchange's.

The machine form travels inside: the license credential (`license.sd-jwt`) or the usage copy
(`usage-copy.jws`) is attached, and the whole file is signed PAdES — a license by the issuing
department's seal, a usage copy by the exchange's. The document info binds page and attachment:
Subject = the license identifier, Keywords = "sha256:<hex>" of the attached text.

`verify_license_pdf` checks the PAdES signature (`seals.verify_pdf`), reads the attachment with
the one license verifier (`exchange.licenses.verify.verify_license`, status list included: a
superseded or revoked version's PDF verifies as such), and checks that they agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from catalog.city_time import BEIJING
from catalog.model import Catalog, LicenseType, Subject
from exchange.certificates.model import format_date_zh, format_datetime_zh, parse_time
from exchange.certificates.pdf import (
    LICENSE_BLOCK_HEIGHT,
    NOTE_BOTTOM,
    RULE,
    _attachment,
    _draw_qr,
    _heavy_centred,
    carries,
    draw_frame,
    draw_label_table,
    ensure_foot_fits,
    text_paragraph,
    with_credential,
)
from exchange.certificates.verdict import authentic
from exchange.errors import GlyphsMissing
from exchange.licenses.content import LicenseContent, mask_holder_number, printed_items
from exchange.licenses.credential import content_of_own
from exchange.licenses.presentation import SEAL_ORGANIZATION_PREFIX
from exchange.licenses.verdict import (FORM_LICENSE, FORM_USAGE_COPY, LICENSE_ATTACHMENT, USAGE_ATTACHMENT, LicenseCheck,
                                       LicenseCheckResult, LicenseVerdict)
from exchange.certificates.verdict import IssuerCompetence
from exchange.licenses.verify import NonceClaim, detect_license_form, unread_license, verify_license
from core.base64url import b64url_decode
from seals.fonts import SONG_FONT_NAME as SONG
from seals.fonts import missing_glyphs, register_song_font
from seals.keys import Signer
from seals.pades import DOCUMENT_LANGUAGE, seal_label, sign_pdf
from seals.seal_image import SealText, draw_seal
from exchange.certificates.status_list import StatusListSource
from seals.trust import TrustStore
from seals.verdict import Check, Status
from seals.verify_pdf import verify_pdf

VERIFY_PATH = "/verify/licenses"
DIGEST_PREFIX = "sha256:"
SEAL_DIAMETER = 40 * mm
QR_SIZE = 34 * mm
MARGIN = 22 * mm


@dataclass(frozen=True)
class PdfPage:
    """What one page says: the license content (its disclosed items), its type in the catalog,
    the use of a usage copy (None for the license itself), and who seals the page."""

    content: LicenseContent
    license_type: LicenseType | None
    usage: Mapping[str, Any] | None
    sealed_by: str
    """The name of the department whose seal signs the file (the issuer, or the exchange for a usage copy)."""


def issue_license_pdf(credential: str, license_type: LicenseType | None, signer: Signer) -> bytes:
    """The PDF of a license version: its every item printed, the credential attached, signed
    PAdES by `signer` (the issuing department's seal)."""
    content = content_of_own(credential)
    page = PdfPage(content, license_type, None, content.issuer.name_zh)
    unsigned = with_credential(render_page(page, credential), credential, name=LICENSE_ATTACHMENT,
                               description="机读电子证照凭证（SD-JWT）", mime_type="application/sd-jwt")
    return sign_pdf(unsigned, signer, reason=f"出具电子证照{content.license_name_zh}", location=content.issuer.name_zh,
                    field_label=seal_label(content.issuer.name_zh))


def issue_usage_copy_pdf(usage_copy: str, license_type: LicenseType | None, signer: Signer, exchange_name_zh: str) -> bytes:
    """The PDF of a usage copy (加注件) the exchange made: the disclosed items and the use,
    the usage copy attached, signed PAdES by `signer` (the exchange's seal)."""
    claims = json.loads(b64url_decode(usage_copy.split(".")[1]))
    page = PdfPage(content_of_own(claims["license"]), license_type, {**claims["usage"], "identifier": claims["jti"]},
                   exchange_name_zh)
    unsigned = with_credential(render_page(page, usage_copy), usage_copy, name=USAGE_ATTACHMENT,
                               description="机读加注件（JWS）", mime_type="application/jose")
    return sign_pdf(unsigned, signer, reason=f"加注件：{claims['usage']['matter_name_zh']}", location=exchange_name_zh,
                    field_label=seal_label(exchange_name_zh))


def render_page(page: PdfPage, attached: str) -> bytes:
    """The page, unsigned and without the attachment (reproducible bytes); `attached` is the
    text the file will carry, whose digest the document info records."""
    register_song_font()
    content = page.content
    missing = missing_glyphs(_printed_text(page))
    if missing:
        raise GlyphsMissing("license", missing)
    output = BytesIO()
    canvas = Canvas(output, pagesize=A4, invariant=1, initialFontName=SONG, lang=DOCUMENT_LANGUAGE)
    canvas.setTitle(content.license_name_zh + ("（加注件）" if page.usage else ""))
    canvas.setSubject(content.identifier)
    canvas.setKeywords(DIGEST_PREFIX + hashlib.sha256(attached.encode("ascii")).hexdigest())
    canvas.setAuthor(page.sealed_by)
    canvas.setCreator("mianzheng 免证")
    made = (parse_time(page.usage["used_at"]) if page.usage else content.issued_at).astimezone(BEIJING)
    canvas.setDateFormatter(lambda *_: f"D:{made:%Y%m%d%H%M%S}+08'00'")
    _draw(canvas, page)
    canvas.showPage()
    canvas.save()
    return output.getvalue()


def carries_license(pdf: bytes) -> bool:
    """Whether `pdf` reads as a PDF with a license or usage copy attached (nothing verified)."""
    return carries(pdf, LICENSE_ATTACHMENT, USAGE_ATTACHMENT)


def verify_license_pdf(pdf: bytes, trust: TrustStore, status_lists: str | StatusListSource | None, *,
                       exchange_uscc: str, now: datetime, catalog: Catalog | None = None,
                       claim_nonce: NonceClaim | None = None, issuers: IssuerCompetence | None = None,
                       id_number: str | None = None) -> LicenseVerdict:
    """The verdict on a license or usage-copy PDF: the attached form's verdict plus the check
    `pdf_signature` (the PAdES signature, by the seal that signed the attachment or another of its
    issuer's seals in good standing, over a page that states the attachment). Never raises for
    bad input."""
    signature = verify_pdf(pdf, trust, now=now)
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        attached = _attachment(reader, LICENSE_ATTACHMENT) or _attachment(reader, USAGE_ATTACHMENT)
        info = reader.trailer["/Info"]
        subject = str(info["/Subject"]) if "/Subject" in info else ""
        keywords = str(info["/Keywords"]) if "/Keywords" in info else ""
    except Exception:  # untrusted input: the PDF parser raises many types
        attached, subject, keywords = None, "", ""
    if attached is None:
        verdict = verify_license("", trust, status_lists, exchange_uscc=exchange_uscc, now=now)
        unreadable = any(result.code == "malformed" for result in signature.checks)  # cut short, damaged
        return _with_pdf_check(verdict, _pdf_result(Status.INVALID, "pdf_unreadable" if unreadable
                                                    else "pdf_attachment_missing"))
    if not authentic(signature):  # what the file carries is not read: a swapped attachment is no license's
        failed = ", ".join(r.code for r in signature.checks if r.status is not Status.VALID)
        why = next(result for result in map(signature.result, (Check.INTEGRITY, Check.CHAIN))
                   if result.status is not Status.VALID)  # what `authentic` found wanting
        unread = unread_license(detect_license_form(attached), "pdf_unverified", trust, status_lists,
                                exchange_uscc=exchange_uscc, now=now, id_number=id_number,
                                reason_zh=why.message_zh, reason_en=why.message_en)
        return _with_pdf_check(unread, _pdf_result(Status.INVALID, "pdf_signature_invalid", detail=failed,
                                                   reason_zh=why.message_zh))
    verdict = verify_license(attached, trust, status_lists, exchange_uscc=exchange_uscc, now=now,
                             catalog=catalog, claim_nonce=claim_nonce, issuers=issuers, id_number=id_number)
    content = verdict.license.content
    expected_signer = verdict.license.signer if verdict.form == FORM_LICENSE else None
    signer = signature.signer
    if verdict.form not in (FORM_LICENSE, FORM_USAGE_COPY) or content is None or signer is None:
        return _with_pdf_check(verdict, _pdf_result(Status.INVALID, "pdf_mismatch", detail="attachment"))
    if subject != content["identifier"] or keywords != DIGEST_PREFIX + hashlib.sha256(attached.encode("ascii")).hexdigest():
        return _with_pdf_check(verdict, _pdf_result(Status.INVALID, "pdf_mismatch", detail="page"))
    if expected_signer is None:  # a usage copy's page: the exchange's seal
        sealed_by_attachment_signer = signer.organization_identifier == SEAL_ORGANIZATION_PREFIX + exchange_uscc
    else:  # the seal that signed the license, or another seal of its issuer in good standing (the page is
        # sealed when it is downloaded, with the seal the issuer uses then: after a rotation, a newer one)
        sealed_by_attachment_signer = signer.kid == expected_signer.kid or (
            signer.organization_identifier == expected_signer.organization_identifier
            and signature.result(Check.SEAL_STATUS).status is Status.VALID)
    if not sealed_by_attachment_signer:
        return _with_pdf_check(verdict, _pdf_result(Status.INVALID, "pdf_mismatch", detail="seal"))
    return _with_pdf_check(verdict, _pdf_result(Status.VALID, "pdf_sealed", signer=signer.organization or signer.subject))


def _pdf_result(status: Status, code: str, **details: Any) -> LicenseCheckResult:
    return LicenseCheckResult.of(LicenseCheck.PDF_SIGNATURE, status, code, **details)


def _with_pdf_check(verdict: LicenseVerdict, result: LicenseCheckResult) -> LicenseVerdict:
    return LicenseVerdict(verdict.form, verdict.license, (result, *verdict.form_checks), verdict.items, verdict.usage,
                          pdf=True)


def _draw(canvas: Canvas, page: PdfPage) -> None:
    content, usage = page.content, page.usage
    width, height = A4
    left, right = MARGIN, width - MARGIN
    draw_frame(canvas)

    title = content.license_name_zh
    y = height - 38 * mm
    _heavy_centred(canvas, width / 2, y, " ".join(title) if len(title) <= 6 else title, 24)
    y -= 8 * mm
    canvas.setFont(SONG, 11)
    canvas.drawCentredString(width / 2, y, "电子证照加注件" if usage else "电子证照")
    y -= 7 * mm
    canvas.setFont(SONG, 9.5)
    canvas.drawCentredString(width / 2, y, f"证照编号：{content.identifier}")
    y -= 5 * mm
    version = f"第 {content.version} 版"
    if content.supersedes:
        version += f"，换发后替代 {content.supersedes}"
    canvas.drawCentredString(width / 2, y, version)

    y = draw_label_table(canvas, _rows(page), left, y - 6 * mm, (46 * mm, right - left - 46 * mm), font_size=10.5,
                         leading=14, padding=3)

    if usage:
        y = _draw_usage(canvas, usage, left, right, y - 5 * mm)

    service = content.status.list_url.split("/api/", 1)[0]
    hint = ParagraphStyle("hint", fontName=SONG, fontSize=8.5, leading=12.5, wordWrap="CJK",
                          textColor=colors.HexColor("#444444"))
    note = text_paragraph(_note(page, service), hint)
    ensure_foot_fits(y - 8 * mm, LICENSE_BLOCK_HEIGHT, note, right - left, "license")

    block_top = min(y - 8 * mm, 92 * mm)
    issuer_x = right - 42 * mm
    canvas.setFont(SONG, 12.5)
    canvas.drawCentredString(issuer_x, block_top - 12 * mm, page.sealed_by)
    made = parse_time(usage["used_at"]) if usage else content.issued_at
    canvas.drawCentredString(issuer_x, block_top - 19 * mm, format_date_zh(made.astimezone(BEIJING).date()))
    draw_seal(canvas, issuer_x + 14 * mm, block_top - 12 * mm, SEAL_DIAMETER,
              SealText(page.sealed_by, purpose="电子证照加注专用章" if usage else "电子证照专用章"), font_name=SONG)
    _draw_qr(canvas, service + VERIFY_PATH, left, block_top - 36 * mm, QR_SIZE)
    canvas.setFont(SONG, 8.5)
    canvas.drawCentredString(left + QR_SIZE / 2, block_top - 40 * mm, "手机扫码打开核验页面")
    note.drawOn(canvas, left, NOTE_BOTTOM)


def _repeats_holder(item: dict[str, Any], content: LicenseContent) -> bool:
    """Whether `item` is the holder's own name or ID number (`full_name`, `id_number`, as the
    license catalog names them), which the first two rows state already: printed again, under the
    item's wider mask, a clerk would read two numbers for one person."""
    value = item["value"]
    if item["name"] == "full_name":
        return value == content.holder_name
    return item["name"] == "id_number" and isinstance(value, str) and mask_holder_number(value) == content.holder_id_masked


def _rows(page: PdfPage) -> list[tuple[str, str]]:
    content, license_type = page.content, page.license_type
    organisation = content.holder_kind is Subject.ORGANISATION
    rows = [("持照单位" if organisation else "持证人", content.holder_name),
            ("统一社会信用代码" if organisation else "身份号码", content.holder_id_masked)]
    rows += [(item["label_zh"], item["text_zh"]) for item in printed_items(license_type, content.items)
             if not _repeats_holder(item, content)]
    rows.append(("发证机关", content.issuer.name_zh))
    rows.append(("签发时间", format_datetime_zh(content.issued_at)))
    validity = (f"{format_datetime_zh(content.valid_from)} 至 {format_datetime_zh(content.valid_until)}"
                if content.valid_until is not None else f"自 {format_datetime_zh(content.valid_from)} 起长期有效")
    rows.append(("有效期", validity))
    if license_type is not None and license_type.legal_basis_zh:
        rows.append(("依据", license_type.legal_basis_zh))
    return rows


def _draw_usage(canvas: Canvas, usage: Mapping[str, Any], left: float, right: float, top: float) -> float:
    """The use of a usage copy in a red box; returns the y below it."""
    style = ParagraphStyle("usage", fontName=SONG, fontSize=10.5, leading=15, wordWrap="CJK", textColor=RULE)
    lines = [
        "加注：本件为电子证照的用证副本（加注件），仅限下列用途使用，逾期作废。",
        f"用证事项：{usage['matter_name_zh']}　　用证部门：{usage['department_name_zh']}",
        f"用途：{usage['purpose_zh']}　　案件编号：{usage['case_number']}",
        f"用证时间：{format_datetime_zh(parse_time(usage['used_at']))}　　"
        f"有效期至：{format_datetime_zh(parse_time(usage['valid_until']))}",
        f"加注件编号：{usage['identifier']}",
    ]
    text = text_paragraph("\n".join(lines), style)
    _, used = text.wrap(right - left - 8 * mm, 60 * mm)
    box_height = used + 6 * mm
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(1.2)
    canvas.rect(left, top - box_height, right - left, box_height)
    canvas.restoreState()
    text.drawOn(canvas, left + 4 * mm, top - 3 * mm - used)
    return top - box_height


def _note(page: PdfPage, service: str) -> str:
    content = page.content
    status = "文中时间均为北京时间。证照是否已换发或撤销，以核验结果为准（核验时查询电子证照状态列表）。"
    trust = (f"本文件带有数字签名：在 PDF 阅读器中将本市电子印章根证书（{service}/api/v1/trust/root.pem）"
             "设为受信任的证书后，阅读器即显示签名有效且签名者可信；阅读器不核查印章或证照是否已被吊销、撤销，"
             "以核验页面的结论为准。")
    if page.usage:
        return (f"本加注件由{page.sealed_by}依据{content.issuer.name_zh}签发的电子证照制作并以电子印章签章，"
                f"所载证照信息仅为用证清单允许该部门获取的项目，由发证机关的签名证明。{status}"
                f"核验方式：访问 {service}{VERIFY_PATH} ，上传本 PDF 文件或附带的机读加注件（{USAGE_ATTACHMENT}）。"
                + trust)
    return (f"本电子证照由{content.issuer.name_zh}以电子印章签章出具。{status}"
            f"核验方式：访问 {service}{VERIFY_PATH} ，上传本 PDF 文件或附带的机读凭证（{LICENSE_ATTACHMENT}）。"
            + trust)


def _printed_text(page: PdfPage) -> str:
    content = page.content
    rows = "".join(label + text for label, text in _rows(page))
    usage = "".join(str(value) for value in page.usage.values()) if page.usage else ""
    return "".join([content.license_name_zh, page.sealed_by, rows, usage])
