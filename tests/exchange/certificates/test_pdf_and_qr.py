"""The PDF with standard tools (poppler), the QR payload's size and interop, the status list."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

import segno
import segno.encoder
import zxingcpp
from PIL import Image
from reportlab.lib.pagesizes import A4

from catalog.city_time import BEIJING
from catalog.model import Catalog
from exchange.certificates.pdf import MARGIN, qr_code, qr_text, render_pdf
from exchange.certificates.verify import qr_from_address
from exchange.certificates.qr_payload import PREFIX
from exchange.certificates.status_list import (
    MIN_ENTRIES,
    StatusList,
    StatusListError,
    entry_index,
    read_status_list,
)
from seals.trust import TrustStore
from tests.support.pdf_tools import require_tool

from .conftest import ISSUED_AT, LIST_URL, Issued, Pki, no_housing_content

pytestmark = pytest.mark.slow


def run(tool: str, *arguments: str) -> str:
    """`tool`'s output; a missing tool says which Debian package brings it (pdf_tools.require_tool)."""
    path = require_tool(tool, "libnss3-tools" if tool == "certutil" else "poppler-utils")
    return subprocess.run([path, *arguments], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def pdf_file(issued: Issued, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "certificate.pdf"
    path.write_bytes(issued.pdf)
    return path


def test_pdfsig_trusts_the_signature_once_the_root_is_imported(pdf_file: Path, trust: TrustStore, tmp_path: Path) -> None:
    assert "Signature is Valid" in run("pdfsig", str(pdf_file))
    root = tmp_path / "root.pem"
    root.write_bytes(trust.root.public_bytes(Encoding.PEM))
    nss = f"sql:{tmp_path}"
    run("certutil", "-N", "-d", nss, "--empty-password")
    run("certutil", "-A", "-d", nss, "-n", "Root", "-t", "C,C,C", "-i", str(root))
    output = run("pdfsig", "-nssdir", nss, str(pdf_file))
    assert "Signature is Valid" in output and "Certificate is Trusted" in output


def test_every_chinese_glyph_comes_from_the_embedded_song_face(pdf_file: Path) -> None:
    fonts = run("pdffonts", str(pdf_file)).splitlines()[2:]
    song = [line for line in fonts if "MianzhengSong-Regular" in line]
    assert song and all(" yes yes yes " in line for line in song)
    # the seal's text uses the same embedded font; only reportlab's unused Helvetica resource is left
    assert {line.split()[0] for line in fonts} - {line.split()[0] for line in song} <= {"Helvetica"}


def test_the_pdf_is_dated_when_it_was_issued(pdf_file: Path, issued: Issued) -> None:
    info = dict(line.split(":", 1) for line in run("pdfinfo", "-isodates", str(pdf_file)).splitlines() if ":" in line)
    issued_at = issued.content.issued_at.astimezone(BEIJING)
    assert info["CreationDate"].strip() == f"{issued_at:%Y-%m-%dT%H:%M:%S}+08"  # Beijing time, as pdfinfo prints it


def test_the_footer_names_the_root_a_reader_must_trust_as_it_is_named(pdf_file: Path) -> None:
    """A verifier told to import the city's 电子证明根证书 finds only its 电子印章根证书 to download."""
    text = "".join(run("pdftotext", str(pdf_file), "-").split())
    assert "将本市电子印章根证书" in text and "电子证明根证书" not in text
    assert "文中时间均为北京时间" in text  # a verifier abroad reads 出具时间 in the city's time


def test_the_page_embeds_its_typeface_once(pdf_file: Path) -> None:
    """Each subset of a TrueType face holds 256 characters; keeping the first 128 codes for ASCII
    left room for about 160 Chinese characters, and a sentence more on the page embedded the face
    a second time (2.6 KB larger, 8 % slower to issue). The page's characters share one subset."""
    fonts = run("pdffonts", str(pdf_file)).splitlines()[2:]
    assert len(fonts) == 1 and "MianzhengSong" in fonts[0], fonts


def test_a_screen_reader_is_told_the_language_and_whose_seal_signs(issued: Issued) -> None:
    """Without /Lang a screen reader reads the Chinese with its default voice; the signature
    field's /TU is what it says of the seal."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(issued.pdf))
    [field] = [field.get_object() for field in reader.root["/AcroForm"]["/Fields"]]
    assert str(reader.root["/Lang"]) == "zh-CN"
    assert str(field["/TU"]) == f"{issued.content.issuer.name_zh}电子印章"


def test_pdfdetach_lists_the_credential(pdf_file: Path, issued: Issued, tmp_path: Path) -> None:
    assert "credential.jws" in run("pdfdetach", "-list", str(pdf_file))
    run("pdfdetach", "-save", "1", "-o", str(tmp_path / "c.jws"), str(pdf_file))
    assert (tmp_path / "c.jws").read_text() == issued.credential


def printed_qr_codes(pdf_file: Path, folder: Path, resolution: str = "150",
                     scale_to_width: int | None = None) -> list[zxingcpp.Barcode]:
    """The QR codes a decoder finds on the page rendered by poppler (a print, or a screenshot
    `scale_to_width` pixels wide)."""
    run("pdftoppm", "-r", resolution, "-png", "-singlefile", str(pdf_file), str(folder / "page"))
    image = Image.open(folder / "page.png")
    if scale_to_width:
        image = image.resize((scale_to_width, round(image.height * scale_to_width / image.width)), Image.LANCZOS)
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


@pytest.mark.parametrize(("resolution", "scale_to_width"), [
    ("150", None),  # a print-quality render
    ("200", 1170),  # a phone screenshot of the whole page (1170 px wide, as a 390 pt screen at 3x)
])
def test_the_qr_opens_the_verify_page_with_the_payload(pdf_file: Path, issued: Issued, tmp_path: Path,
                                                       resolution: str, scale_to_width: int | None) -> None:
    decoded = [barcode.text for barcode in printed_qr_codes(pdf_file, tmp_path, resolution, scale_to_width)]
    assert decoded == [qr_text(issued.content, issued.qr)]
    assert decoded[0].startswith(f"{LIST_URL.split('/api/')[0]}/v#MZ2:")
    assert qr_from_address(decoded[0]) == issued.qr  # what an offline verifier reads


def test_the_qr_is_as_small_as_its_content_allows(pdf_file: Path, issued: Issued, tmp_path: Path) -> None:
    [printed] = printed_qr_codes(pdf_file, tmp_path)
    version = int(printed.extra["Version"])
    text = qr_text(issued.content, issued.qr)
    address, hash_sign, payload = text.partition("#")
    # segno as a second encoder: the whole text in byte mode, and the address in byte mode with
    # the Base45 payload in alphanumeric mode
    single_mode = segno.make(text, error="m", micro=False, boost_error=False)
    two_modes = segno.make([address + hash_sign, payload], error="m", micro=False, boost_error=False)
    assert version < single_mode.version and version <= two_modes.version
    # MZ1 needed version 19 for the same certificate. The seal's key id and the signature are
    # random bytes that compress differently, so the same content takes version 15 to 17.
    assert version <= 17 and printed.ec_level == "M"
    assert len(qr_code(text)) == 17 + 4 * version  # the modules drawn are those of that version


def test_the_qr_has_the_data_mask_of_lowest_penalty(pdf_file: Path, issued: Issued, tmp_path: Path) -> None:
    """ISO/IEC 18004 7.8.3: of the eight data masks, the one whose symbol scores the lowest
    penalty (runs, blocks, finder-like patterns, dark proportion), scored here by segno. The
    encoder and segno score some symbols a little differently, so for about 1 payload in 50 the
    encoder picks a mask segno scores up to 1% above its lowest: within 2% is accepted."""
    [printed] = printed_qr_codes(pdf_file, tmp_path)
    text = qr_text(issued.content, issued.qr)

    def penalty(mask: int) -> int:
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M", data_mask=mask)
        image = zxingcpp.write_barcode_to_image(symbol, add_quiet_zones=False)
        assert int(zxingcpp.read_barcode(image).extra["DataMask"]) == mask
        matrix = [bytearray(1 if pixel == 0 else 0 for pixel in row) for row in memoryview(image).tolist()]
        return segno.encoder.evaluate_mask(matrix, len(matrix), len(matrix))

    penalties = [penalty(mask) for mask in range(8)]
    assert penalties[int(printed.extra["DataMask"])] <= min(penalties) * 1.02, penalties


def printed_purpose(catalog: Catalog, purpose: str, folder: Path) -> tuple[list[str], list[float]]:
    """The lines pdftotext reads in the purpose cell of a page stating `purpose`, and the right
    edges of every word on the page."""
    pdf = folder / "purpose.pdf"
    pdf.write_bytes(render_pdf(replace(no_housing_content(catalog), purpose=purpose), "MZ2:TEST"))
    cell = run("pdftotext", str(pdf), "-").split("用途\n\n", 1)[1].split("\n\n", 1)[0]
    right_edges = [float(edge) for edge in re.findall(r'xMax="([0-9.]+)"', run("pdftotext", "-bbox", str(pdf), "-"))]
    return cell.splitlines(), right_edges


def test_a_long_purpose_is_printed_whole_and_wrapped_inside_the_table(catalog: Catalog, tmp_path: Path) -> None:
    purpose = ("申请公共租赁住房（家庭成员：张三、李四；住址：金华市婺城区八一南街Room 1203号，联系电话13800000000，"
               "备注：Application-ID ABC-2026-000123456789）以及其他用途说明")
    lines, right_edges = printed_purpose(catalog, purpose, tmp_path)
    assert len(lines) == 3 and "".join(lines) == purpose
    assert lines[2].startswith("Application-ID")  # a Latin word is not cut where it fits on the next line
    assert max(right_edges) <= A4[0] - MARGIN  # nothing runs over the table's right rule


def test_the_purpose_is_printed_as_written_markup_characters_included(catalog: Catalog, tmp_path: Path) -> None:
    """The page states what the credential states: `<b>` or `&amp;` in a purpose are text."""
    purpose = "租房<b>加粗</b> a&amp;b <i>x"
    assert printed_purpose(catalog, purpose, tmp_path)[0] == [purpose]


def test_rendering_is_reproducible(issued: Issued) -> None:
    assert render_pdf(issued.content, issued.qr) == render_pdf(issued.content, issued.qr)


def test_qr_payload_is_small_and_alphanumeric(issued: Issued) -> None:
    assert issued.qr.startswith(PREFIX)
    assert len(issued.qr) < 1000
    assert set(issued.qr) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def test_qr_cose_verifies_with_pycose(issued: Issued, pki: Pki) -> None:
    import zlib

    import base45
    from pycose.keys import EC2Key
    from pycose.messages import Sign1Message

    import cbor2

    tagged = cbor2.loads(zlib.decompress(base45.b45decode(issued.qr[len(PREFIX) :])))
    assert tagged.tag == 18
    # cbor2 6 decodes arrays as tuples, which pycose 1.1's decode() does not accept
    protected, unprotected, payload, signature = tagged.value
    message = Sign1Message.from_cose_obj([protected, dict(unprotected), payload, signature], True)
    numbers = pki.signer("BDC").certificate_chain[0].public_key().public_numbers()
    message.key = EC2Key(crv="P_256", x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))
    assert message.verify_signature()


def test_status_list(pki: Pki, trust: TrustStore) -> None:
    empty = StatusList.empty(LIST_URL)
    assert empty.size == MIN_ENTRIES and not empty.is_revoked(0)
    revoked = empty.revoke(0).revoke(MIN_ENTRIES - 1, "issued_in_error")
    assert revoked.bits[0] == 0x80 and revoked.bits[-1] == 0x01
    assert revoked.reason(0) == "unspecified" and revoked.reason(MIN_ENTRIES - 1) == "issued_in_error"
    assert revoked.reason(1) is None
    assert revoked.encoded_list().startswith("u") and len(empty.encoded_list()) < 100
    from exchange.certificates.status_list import sign_status_list

    token = sign_status_list(revoked, pki.signer("SJ"), now=ISSUED_AT)
    assert read_status_list(token, trust, now=ISSUED_AT) == revoked
    with pytest.raises(IndexError):
        empty.is_revoked(MIN_ENTRIES)
    with pytest.raises(ValueError):
        StatusList.empty(LIST_URL, 1024)
    assert revoked.revoked_indexes() == {0, MIN_ENTRIES - 1}


def test_status_entries_are_a_keyed_permutation_of_the_issuance_number() -> None:
    key, other_key = b"k" * 16, b"o" * 16
    indexes = [entry_index(number, key) for number in range(MIN_ENTRIES)]
    assert sorted(indexes) == list(range(MIN_ENTRIES))  # every entry once: never two certificates on one bit
    first = indexes[:64]
    assert first != sorted(first) and max(first) - min(first) > MIN_ENTRIES // 2  # not in issuance order
    assert [entry_index(number, other_key) for number in range(64)] != first
    with pytest.raises(StatusListError) as full:
        entry_index(MIN_ENTRIES, key)
    assert full.value.code == "status_list_full"


def test_the_statement_is_printed_as_written_markup_characters_included(catalog: Catalog, tmp_path: Path) -> None:
    """A name such as `A&amp;B<公司>` in the statement is text on the page, as in the credential."""
    content = no_housing_content(catalog)
    statement = content.statement_zh.replace("张三", "张<b>三</b> A&amp;B<公司>", 1)
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(render_pdf(replace(content, statement_zh=statement), "MZ2:TEST"))
    printed = "".join(run("pdftotext", str(pdf), "-").split())
    assert "".join(statement.split()) in printed
