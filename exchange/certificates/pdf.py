"""The certificate as a sealed PDF: A4, Chinese, embedded font, red seal, QR code, credential attached.

Rendering (reportlab, `invariant=1`, so the same content gives the same bytes): title,
identifier, holder, the result sentence, a table of the printed data items with their catalog
labels, search/issue times, validity and purpose (drawn straight onto the canvas, each text
wrapped as a reportlab CJK paragraph wraps it and printed as written); the issuer line with the department's round
seal (`seals.seal_image.draw_seal`) over it; the QR code (encoded by zxing-cpp, native code)
drawn as one path of horizontal runs; a verification hint. Every character, the seal's included, is
in the Song face shipped with the code (`seals.fonts`), embedded as a TrueType subset.

The document info records what the page shows: Subject = the identifier, Keywords =
"sha256:<hex>" of the canonical content. The credential JWS is attached as `credential.jws`
(pyHanko embedded file, an incremental update) and the whole file is then signed PAdES with the
department's seal (`seals.pades.sign_pdf`). Verification checks the PAdES signature, the
embedded credential, and that the two agree (same content digest and identifier, same seal).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape
from datetime import datetime
from io import BytesIO
from urllib.parse import quote

import zxingcpp
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.lib import colors
from reportlab.lib.enums import TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.textsplit import wordSplit
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from core.canonical import canonical_sha256
from exchange.certificates.credential import verify_credential
from catalog.city_time import BEIJING
from exchange.certificates.model import CertificateContent, format_date_zh, format_datetime_zh
from exchange.certificates.verdict import SignedForm, authentic, integrity_failure, with_integrity
from exchange.certificates.verify import is_pdf
from exchange.errors import GlyphsMissing, PageOverflow
from seals.fonts import SONG_FONT_NAME as SONG
from seals.fonts import missing_glyphs, register_song_font
from seals.keys import Signer
from seals.pades import DOCUMENT_LANGUAGE, seal_label, sign_pdf
from seals.seal_image import SealText, draw_seal
from seals.trust import TrustStore
from seals.verdict import Status
from seals.verify_pdf import verify_pdf

ATTACHMENT_NAME = "credential.jws"
VERIFY_PATH = "/v"
"""The verification page a scanned QR code opens (the payload follows `#`)."""
DIGEST_PREFIX = "sha256:"
SEAL_DIAMETER = 42 * mm
QR_SIZE = 40 * mm
QR_BLOCK_HEIGHT = 48 * mm
"""From the top of the issuer's block (name, date, seal, QR code and its caption) to below the caption."""
LICENSE_BLOCK_HEIGHT = 44 * mm
"""The same on a license's page, whose block is drawn closer."""
NOTE_BOTTOM = 20 * mm
"""Where the verification note at the foot of the page starts."""
QR_QUIET_MODULES = 2
MARGIN = 22 * mm
INK = colors.HexColor("#1a1a1a")
RULE = colors.HexColor("#8c1c13")
LABEL_SHADE = colors.HexColor("#f3f0ea")


def issue_pdf(content: CertificateContent, credential: str, qr_payload: str, signer: Signer, *,
              tsa_url: str | None = None, read_from_license: bool = False) -> bytes:
    """The signed certificate PDF (render, attach the credential, sign PAdES; the attachment and
    the signature are one incremental update)."""
    unsigned = with_credential(render_pdf(content, qr_payload, read_from_license=read_from_license), credential)
    return sign_pdf(
        unsigned, signer, tsa_url=tsa_url, reason=f"出具{content.proof_name_zh}", location=content.issuer.name_zh,
        field_label=seal_label(content.issuer.name_zh))


def render_pdf(content: CertificateContent, qr_payload: str, *, read_from_license: bool = False) -> bytes:
    """The certificate page, unsigned and without the attachment (reproducible bytes).

    A certificate `read_from_license` states what a license version in the library held: its page
    says so under the title, and that it ends when the license is amended or revoked (which
    revokes it, `exchange.license_certificates`), rather than 长期有效 or its date alone. Another
    certificate without an end says it states the record as at its issue."""
    register_song_font()
    missing = missing_glyphs(_printed_text(content))
    if missing:
        raise GlyphsMissing("certificate", missing)
    output = BytesIO()
    canvas = Canvas(output, pagesize=A4, invariant=1, initialFontName=SONG, lang=DOCUMENT_LANGUAGE)
    canvas.setTitle(content.proof_name_zh)
    canvas.setSubject(content.identifier)
    canvas.setKeywords(DIGEST_PREFIX + canonical_sha256(content.to_dict()))
    canvas.setAuthor(content.issuer.name_zh)
    canvas.setCreator("mianzheng 免证")
    issued = content.issued_at.astimezone(BEIJING)
    canvas.setDateFormatter(lambda *_: f"D:{issued:%Y%m%d%H%M%S}+08'00'")  # the issue time, not reportlab's 2000
    _draw_page(canvas, content, qr_payload, read_from_license)
    canvas.showPage()
    canvas.save()
    return output.getvalue()


def attach_credential(pdf: bytes, credential: str, *, name: str = ATTACHMENT_NAME,
                      description: str = "机读电子证明凭证（JWS）", mime_type: str = "application/jose") -> bytes:
    """`pdf` with `credential` embedded as `name` (by default `credential.jws`; an incremental update)."""
    output = BytesIO()
    with_credential(pdf, credential, name=name, description=description, mime_type=mime_type).write(output)
    return output.getvalue()


def with_credential(pdf: bytes, credential: str, *, name: str = ATTACHMENT_NAME,
                    description: str = "机读电子证明凭证（JWS）", mime_type: str = "application/jose") -> IncrementalPdfFileWriter:
    """An incremental update of `pdf` that embeds `credential` as `name`, not written yet (so
    `seals.pades.sign_pdf` can sign it in the same update)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    data = embed.EmbeddedFileObject.from_file_data(writer, credential.encode("ascii"), mime_type=mime_type)
    embed.embed_file(
        writer,
        embed.FileSpec(
            file_spec_string=name,
            file_name=name,
            embedded_data=data,
            description=description,
        ),
    )
    return writer


def verify_certificate_pdf(pdf: bytes, trust: TrustStore, *, now: datetime) -> SignedForm:
    """Verify the PAdES signature and the embedded credential, and that they agree."""
    verdict = verify_pdf(pdf, trust, now=now)
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        credential = _attachment(reader)
        info = reader.trailer["/Info"]
        subject = str(info["/Subject"]) if "/Subject" in info else ""
        keywords = str(info["/Keywords"]) if "/Keywords" in info else ""
    except Exception:  # untrusted input: the PDF parser raises many types
        return SignedForm(verdict, None)
    if credential is None:
        return SignedForm(with_integrity(verdict, integrity_failure("credential_missing")), None)
    embedded = verify_credential(credential, trust, now=now)
    if not authentic(embedded.signature) or embedded.content is None:
        failed = ", ".join(c.code for c in embedded.signature.checks if c.status is not Status.VALID)
        return SignedForm(with_integrity(verdict, integrity_failure("credential_invalid", detail=failed)), None)
    content = embedded.content
    if not authentic(verdict):
        return SignedForm(verdict, content)
    if subject != content.identifier or keywords != DIGEST_PREFIX + canonical_sha256(content.to_dict()):
        mismatch = "凭证内容与 PDF 页面所载不符 / the credential's content is not the one the page shows"
        return SignedForm(with_integrity(verdict, integrity_failure("credential_mismatch", detail=mismatch)), content)
    if embedded.signature.signer is None or verdict.signer is None or embedded.signature.signer.kid != verdict.signer.kid:
        seal = verdict.signer.organization if verdict.signer is not None else None
        return SignedForm(with_integrity(verdict, integrity_failure("credential_seal_mismatch", seal=seal or "未知")),
                          content)
    return SignedForm(verdict, content)


def carries(pdf: bytes, *names: str) -> bool:
    """Whether `pdf` reads as a PDF with one of the attachments `names` (nothing verified): which
    verifier an uploaded PDF goes to."""
    if not is_pdf(pdf):
        return False
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        return any(_attachment(reader, name) is not None for name in names)
    except Exception:  # untrusted input: the PDF parser raises many types
        return False


def _attachment(reader: PdfFileReader, name: str = ATTACHMENT_NAME) -> str | None:
    root = reader.root
    if "/Names" not in root or "/EmbeddedFiles" not in root["/Names"]:
        return None
    files = root["/Names"]["/EmbeddedFiles"]
    if "/Names" not in files:
        return None
    array = files["/Names"]
    for position in range(0, len(array) - 1, 2):
        if str(array[position]) == name:
            stream = array[position + 1]["/EF"]["/F"]
            return stream.data.decode("ascii") if isinstance(stream, generic.StreamObject) else None
    return None


def service_url(content: CertificateContent) -> str:
    """The base URL of the service that issued the certificate (its status list lives there)."""
    return content.status.list_url.split("/api/", 1)[0]


def qr_text(content: CertificateContent, qr_payload: str) -> str:
    """What the QR code holds: the verification page's address with the payload after `#`, so a
    phone camera opens the verdict, while the payload itself stays verifiable offline (and never
    reaches a server log, a fragment not being sent). The Base45 space and `%` are percent-encoded
    (`%20`, `%25`), which keeps the fragment unambiguous and in QR alphanumeric mode."""
    return f"{service_url(content)}{VERIFY_PATH}#{quote(qr_payload, safe='$*+-./:')}"


def _draw_page(canvas: Canvas, content: CertificateContent, qr_payload: str, read_from_license: bool) -> None:
    width, height = A4
    left, right = MARGIN, width - MARGIN
    draw_frame(canvas)

    title, _, subtitle = content.proof_name_zh.partition("（")
    if read_from_license and not subtitle:
        subtitle = "电子证照信息）"  # not the license itself
    y = height - 42 * mm
    _heavy_centred(canvas, width / 2, y, " ".join(title) if len(title) <= 6 else title, 24)
    if subtitle:
        y -= 9 * mm
        canvas.setFont(SONG, 13)
        canvas.drawCentredString(width / 2, y, "（" + subtitle)
    y -= 9 * mm
    canvas.setFont(SONG, 10)
    canvas.drawCentredString(width / 2, y, f"证明编号：{content.identifier}")

    body = ParagraphStyle(
        "body", fontName=SONG, fontSize=13, leading=22, firstLineIndent=26, alignment=TA_JUSTIFY, wordWrap="CJK"
    )
    statement = text_paragraph(content.statement_zh, body)
    _, used = statement.wrap(right - left, 60 * mm)
    y -= 9 * mm + used
    statement.drawOn(canvas, left, y)

    rows = [(field.label_zh, field.text_zh) for field in content.fields]
    if content.as_of is not None:
        rows.append(("截至时间", f"{format_datetime_zh(content.as_of)}（本证明为截至该时间的查询结果）"))
    rows.append(("出具时间", format_datetime_zh(content.issued_at)))
    rows.append(("有效期", _validity_text(content, read_from_license)))
    rows.append(("用途", content.purpose))
    y = draw_label_table(canvas, rows, left, y - 7 * mm, (45 * mm, right - left - 45 * mm), font_size=11, leading=15,
                         padding=4)
    note = _verification_note(content)
    ensure_foot_fits(y - 12 * mm, QR_BLOCK_HEIGHT, note, right - left, "certificate")

    # issuer and date, the seal stamped over them (right); the QR code (left)
    block_top = min(y - 12 * mm, 100 * mm)
    issuer_x = right - 42 * mm
    canvas.setFont(SONG, 13)
    canvas.drawCentredString(issuer_x, block_top - 14 * mm, content.issuer.name_zh)
    canvas.drawCentredString(issuer_x, block_top - 21 * mm, format_date_zh(content.issued_at.astimezone(BEIJING).date()))
    # stamped over the right part of the name and the date, as a seal is on paper
    draw_seal(canvas, issuer_x + 14 * mm, block_top - 14 * mm, SEAL_DIAMETER, SealText(content.issuer.name_zh),
              font_name=SONG)
    _draw_qr(canvas, qr_text(content, qr_payload), left, block_top - 40 * mm, QR_SIZE)
    canvas.setFont(SONG, 8.5)
    canvas.drawCentredString(left + QR_SIZE / 2, block_top - 44 * mm, "手机扫码核验")

    note.drawOn(canvas, left, NOTE_BOTTOM)


def _validity_text(content: CertificateContent, read_from_license: bool) -> str:
    valid_from = format_datetime_zh(content.valid_from)
    if content.valid_until is None:
        return (f"自 {valid_from} 起，至所据电子证照变更或注销时止" if read_from_license
                else f"自 {valid_from} 起长期有效（所载为出具时的登记信息）")
    period = f"{valid_from} 至 {format_datetime_zh(content.valid_until)}"
    return f"{period}；所据电子证照在此前变更或注销的，至变更或注销时止" if read_from_license else period


def _verification_note(content: CertificateContent) -> Paragraph:
    """The note at the foot of the page: how to verify the certificate, in print and online."""
    service = service_url(content)
    hint = ParagraphStyle("hint", fontName=SONG, fontSize=8.5, leading=12.5, wordWrap="CJK",
                          textColor=colors.HexColor("#444444"))
    return text_paragraph(
        f"本证明由{content.issuer.name_zh}以电子印章签章出具，与加盖实物印章的纸质证明具有同等效力，文中时间均为北京时间。"
        f"核验方式：用手机相机扫描左侧二维码，即打开核验页面显示核验结论；或访问 {service}{VERIFY_PATH} ，"
        f"上传本 PDF 文件或机读凭证（{content.identifier}.jws）。二维码内容经签名，无网络时亦可离线核验。"
        f"本文件带有数字签名：在 PDF 阅读器中将本市电子印章根证书（{service}/api/v1/trust/root.pem ，"
        "核验页面载有其指纹）设为受信任的证书后，阅读器即显示签名有效且签名者可信；"
        "阅读器不核查印章或证明是否已被吊销、撤销，以核验页面的结论为准。"
        "打印件以扫码核验结果为准；超过有效期或已被撤销的证明无效。",
        hint,
    )


def ensure_foot_fits(block_top: float, block_height: float, note: Paragraph, width: float, document: str) -> None:
    """`PageOverflow` unless the issuer's block (seal, QR code) from `block_top` down and the note
    at the foot of the page (wrapped here to `width`) fit below the rows printed above them."""
    _, note_height = note.wrap(width, 40 * mm)
    if block_top < NOTE_BOTTOM + note_height + block_height:
        raise PageOverflow(document)


def draw_frame(canvas: Canvas) -> None:
    """The page's frame, a double red rule as on printed certificates; leaves the fill in ink."""
    width, height = A4
    canvas.setFillColor(INK)
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(1.6)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    canvas.setLineWidth(0.5)
    canvas.rect(14 * mm, 14 * mm, width - 28 * mm, height - 28 * mm)


def text_paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph printing `text` as written: `<`, `&` and the like are text, not markup (the
    page states what the credential states); a newline breaks the line."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


CELL_SIDE_PADDING = 6.0
"""reportlab's default left and right cell padding."""


def draw_label_table(canvas: Canvas, rows: list[tuple[str, str]], x: float, top: float, widths: tuple[float, float],
                     *, font_size: float, leading: float, padding: float) -> float:
    """A two-column table of labels (shaded) and values, ruled in ink, its top left corner at
    (x, top), drawn straight onto the canvas (as a platypus table would lay it out, at a
    fraction of its cost): each text wrapped to its column (`wrap_cjk`), centred
    vertically in its row, `padding` above and below. Returns the table's bottom edge."""
    wrapped = [(wrap_cjk(label, SONG, font_size, widths[0] - 2 * CELL_SIDE_PADDING),
                wrap_cjk(value, SONG, font_size, widths[1] - 2 * CELL_SIDE_PADDING)) for label, value in rows]
    heights = [max(len(label), len(value), 1) * leading + 2 * padding for label, value in wrapped]
    bottom = top - sum(heights)
    right = x + widths[0] + widths[1]
    canvas.saveState()
    canvas.setFillColor(LABEL_SHADE)
    canvas.rect(x, bottom, widths[0], top - bottom, stroke=0, fill=1)
    text = canvas.beginText()
    text.setFont(SONG, font_size, leading)
    text.setFillColor(colors.black)  # a paragraph's default, as the cells were printed
    row_top = top
    for cells, height in zip(wrapped, heights):
        for column_x, lines in zip((x, x + widths[0]), cells):
            # the first baseline one font size under the top of the lines, the lines centred in the row
            baseline = row_top - (height - len(lines) * leading) / 2 - font_size
            for number, line in enumerate(lines):
                text.setTextOrigin(column_x + CELL_SIDE_PADDING, baseline - number * leading)
                text.textOut(line)
        row_top -= height
    canvas.drawText(text)
    canvas.setStrokeColor(INK)
    canvas.setLineWidth(0.6)
    rules = [(x, top, right, top)]
    row_top = top
    for height in heights:
        row_top -= height
        rules.append((x, row_top, right, row_top))
    rules += [(column_x, top, column_x, bottom) for column_x in (x, x + widths[0], right)]
    canvas.lines(rules)
    canvas.restoreState()
    return bottom


def wrap_cjk(text: str, font_name: str, size: float, width: float) -> list[str]:
    """`text` in lines of `width`, broken as a reportlab paragraph with `wordWrap="CJK"` breaks
    it (its `textsplit.wordSplit`: between any two characters, a Latin word kept whole where it
    can be, a closing mark hung in the margin rather than starting a line), white space
    collapsed as a paragraph collapses it."""
    return [line for _, line in wordSplit(" ".join(text.split()), width, font_name, size)] or [""]


def _heavy_centred(canvas: Canvas, x: float, y: float, text: str, size: float) -> None:
    """A title line in a heavier stroke (filled and outlined), as 小标宋 titles are."""
    canvas.saveState()
    canvas.setLineWidth(size * 0.025)
    canvas.setStrokeColor(INK)
    text_object = canvas.beginText()
    text_object.setTextRenderMode(2)
    text_object.setFont(SONG, size)
    text_object.setTextOrigin(x - canvas.stringWidth(text, SONG, size) / 2, y)
    text_object.textOut(text)
    canvas.drawText(text_object)
    canvas.restoreState()


def _printed_text(content: CertificateContent) -> str:
    """Every text the page prints that comes from the content (checked against the font)."""
    return "".join([content.proof_name_zh, content.statement_zh, content.purpose, content.issuer.name_zh,
                    *(field.label_zh + field.text_zh for field in content.fields)])


def qr_code(text: str) -> list[bytes]:
    """The QR code of `text` at error correction M, as rows of modules (1 dark, 0 light), without
    the quiet zone. zxing-cpp (its zint encoder) splits the text into the segments that take the
    fewest bits (the address in byte mode, the Base45 payload after `#` in alphanumeric mode),
    takes the smallest version they fit, and picks the data mask of lowest penalty by the rules
    of ISO/IEC 18004."""
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(zxingcpp.write_barcode_to_image(symbol, add_quiet_zones=False))
    height, width = image.shape
    modules = image.tobytes().translate(_MODULE_OF_PIXEL)
    return [modules[row * width:(row + 1) * width] for row in range(height)]


_MODULE_OF_PIXEL = bytes([1] + [0] * 255)
"""zxing-cpp draws one pixel per module, black (0) where the module is dark."""
_DARK_RUN = re.compile(b"\x01+")


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """The QR code, lower-left at (x, y), on white: one filled path of the horizontal runs of dark
    modules, written in module units (one `re` operator a run, whole numbers) under a transform
    that maps a module onto its square on the page, row 0 at the top."""
    matrix = qr_code(text)
    unit = size / (len(matrix) + 2 * QR_QUIET_MODULES)
    canvas.saveState()
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    canvas.transform(unit, 0, 0, -unit, x + QR_QUIET_MODULES * unit, y + size - QR_QUIET_MODULES * unit)
    row_length = len(matrix[0]) + 1  # the rows joined by a light separator: runs end at it
    runs = [f"{start % row_length} {start // row_length} {end - start} 1 re"
            for run in _DARK_RUN.finditer(b"\0".join(matrix)) for start, end in (run.span(),)]
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()
