"""A license version and a usage copy (加注件) as sealed PDFs: what the page says (pdftotext),
who signed (pdfsig trusting only the city root, and our verifier), the status list followed, and
tampered copies refused by both."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader

from catalog.model import Catalog
from exchange.certificates.model import StatusEntry
from exchange.certificates.status_list import StatusList, sign_status_list
from exchange.licenses.content import build_license_content
from exchange.licenses.credential import sign_license
from exchange.licenses.pdf import issue_license_pdf, issue_usage_copy_pdf, verify_license_pdf
from exchange.licenses.usage_copy import Use, make_usage_copy
from seals.ca import RevocationReason
from seals.registry import revoke_seal, rotate_seal
from tests.exchange.certificates.conftest import ISSUED_AT, Pki, make_pki
from tests.exchange.licenses.test_license_forms import HOLDER, INDEX, ITEMS, LIST_URL, NOW, SPOUSE_ID
from tests.support.pdf_tools import nss_db_trusting, require_tool, run_pdfsig, signed_whole

USE = Use("PUBLIC_RENTAL_HOUSING", "公共租赁住房申请", "ZJ", "金华市住房和城乡建设局", "公租房资格审核（婚姻状况）",
          "GZF-2026-000123")


@pytest.fixture(scope="module")
def credential(pki: Pki, catalog: Catalog) -> str:
    content = build_license_content(
        license_type=catalog.licenses["MARRIAGE_CERTIFICATE"], department=catalog.departments["MZ"],
        holder=HOLDER.held_by(), items=ITEMS, serial=8, version=2, supersedes="1.2.156.3005.2.2003.X",
        status=StatusEntry(LIST_URL, INDEX), issued_at=ISSUED_AT, valid_from=ISSUED_AT, valid_until=None)
    return sign_license(content, pki.signer("MZ"))


@pytest.fixture(scope="module")
def license_pdf(pki: Pki, catalog: Catalog, credential: str) -> bytes:
    return issue_license_pdf(credential, catalog.licenses["MARRIAGE_CERTIFICATE"], pki.signer("MZ"))


@pytest.fixture(scope="module")
def usage_pdf(pki: Pki, catalog: Catalog, credential: str) -> bytes:
    copy = make_usage_copy(credential, ["marital_status", "spouse_name"], USE, pki.signer("SJ"),
                           catalog.departments["SJ"].uscc, now=NOW, valid_until=NOW + timedelta(days=30))
    return issue_usage_copy_pdf(copy.token, catalog.licenses["MARRIAGE_CERTIFICATE"], pki.signer("SJ"),
                                catalog.departments["SJ"].legal_name_zh)


@pytest.fixture(scope="module")
def status_token(pki: Pki) -> str:
    return sign_status_list(StatusList.empty(LIST_URL), pki.signer("SJ"), now=ISSUED_AT)


def verify(pki: Pki, catalog: Catalog, pdf: bytes, token: str, **kwargs):  # type: ignore[no-untyped-def]
    return verify_license_pdf(pdf, pki.trust(), token, exchange_uscc=catalog.departments["SJ"].uscc,
                              catalog=catalog, **{"now": NOW, **kwargs})


def checks(verdict) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {c["check"]: (c["status"], c["code"]) for c in verdict.to_dict()["checks"]}


def page_text(pdf: bytes, folder: Path) -> str:
    pdftotext = require_tool("pdftotext", "poppler-utils")
    path = folder / "page.pdf"
    path.write_bytes(pdf)
    return subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_license_pdf_prints_the_types_items_and_pdfsig_trusts_its_issuer(
        pki: Pki, catalog: Catalog, license_pdf: bytes, status_token: str, tmp_path: Path) -> None:
    text = page_text(license_pdf, tmp_path)
    assert "Marriage certificate" not in text  # a Chinese page: the type's English name is for developers
    for expected in ("结婚证", "电子证照", "第 2 版", "结婚证字号", "J330702-2020-000123", "婚姻状况",
                     "已婚", "配偶姓名", "李明", "金华市民政局", "长期有效", "《婚姻登记条例》"):
        assert expected in text, expected
    assert HOLDER.number not in text and SPOUSE_ID not in text  # masked on the page
    assert "阅读器不核查印章或证照是否已被吊销、撤销，以核验页面的结论为准" in "".join(text.split())
    assert "本市电子印章根证书" in "".join(text.split())  # the root by the name it has, as the verify page gives it
    assert "文中时间均为北京时间" in "".join(text.split())
    assert "证照编号：" in text and "证照标识" not in text  # the number as the wallet and the verify page name it
    # the holder once, under one mask: not again among the items, where a clerk would read two numbers
    assert text.count("4585") == 1 and "**************4585" in text and "持证人姓名" not in text, text

    root = pki.trust().root.public_bytes(Encoding.PEM)
    report = run_pdfsig(license_pdf, tmp_path, nss_db_trusting(root, tmp_path))
    assert "Signature is Valid" in report and "Certificate is Trusted" in report and signed_whole(report)
    assert "金华市民政局" in report  # the signer is the issuing department's seal
    reader = PdfFileReader(BytesIO(license_pdf))  # a screen reader reads it in Chinese, and whose seal it is
    [field] = [field.get_object() for field in reader.root["/AcroForm"]["/Fields"]]
    assert (str(reader.root["/Lang"]), str(field["/TU"])) == ("zh-CN", "金华市民政局电子印章")

    verdict = verify(pki, catalog, license_pdf, status_token, id_number=HOLDER.number)
    assert verdict.status.value == "VALID", verdict.to_dict()
    assert verdict.form == "license" and verdict.pdf
    assert checks(verdict)["pdf_signature"] == ("VALID", "pdf_sealed")
    assert {row["name"] for row in verdict.items} == set(ITEMS)


def test_the_usage_copy_pdf_states_its_use_and_is_sealed_by_the_exchange(
        pki: Pki, catalog: Catalog, usage_pdf: bytes, status_token: str, tmp_path: Path) -> None:
    text = page_text(usage_pdf, tmp_path)
    for expected in ("加注件", "公共租赁住房申请", "金华市住房和城乡建设局", "GZF-2026-000123", "已婚", "李明",
                     catalog.departments["SJ"].legal_name_zh):
        assert expected in text, expected
    assert "案件编号：GZF-2026-000123" in "".join(text.split())  # as the workbench and the verify page name it
    assert "配偶身份号码" not in text  # not an item the use may receive

    root = pki.trust().root.public_bytes(Encoding.PEM)
    report = run_pdfsig(usage_pdf, tmp_path, nss_db_trusting(root, tmp_path))
    assert "Signature is Valid" in report and "Certificate is Trusted" in report and signed_whole(report)
    assert catalog.departments["SJ"].legal_name_zh in report

    verdict = verify(pki, catalog, usage_pdf, status_token)
    assert verdict.status.value == "VALID", verdict.to_dict()
    assert verdict.form == "usage_copy" and verdict.usage is not None and verdict.usage["department"] == "ZJ"
    late = verify(pki, catalog, usage_pdf, status_token, now=NOW + timedelta(days=31))
    assert checks(late)["usage_window"] == ("INVALID", "usage_expired")


def test_superseded_and_revoked_versions_pdfs_follow_the_status_list(
        pki: Pki, catalog: Catalog, license_pdf: bytes, usage_pdf: bytes) -> None:
    for reason in ("superseded", "issued_in_error"):
        token = sign_status_list(StatusList.empty(LIST_URL).revoke(INDEX, reason), pki.signer("SJ"), now=ISSUED_AT)
        for pdf in (license_pdf, usage_pdf):
            verdict = verify(pki, catalog, pdf, token)
            assert verdict.status.value == "INVALID"
            assert verdict.to_dict()["revocation_reason"] == reason


def test_a_tampered_pdf_is_refused_by_our_verifier_and_by_pdfsig(
        pki: Pki, catalog: Catalog, license_pdf: bytes, usage_pdf: bytes, status_token: str, tmp_path: Path) -> None:
    for pdf, needle, forged in ((license_pdf, b"/Subject", b"/Subjecx"), (usage_pdf, b"/Keywords", b"/Keywordz")):
        position = pdf.index(needle)
        tampered = pdf[:position] + forged + pdf[position + len(needle):]
        assert len(tampered) == len(pdf)
        verdict = verify(pki, catalog, tampered, status_token)
        assert verdict.status.value == "INVALID"
        assert checks(verdict)["pdf_signature"][0] == "INVALID"
        report = run_pdfsig(tampered, tmp_path)
        assert "Signature is Valid" not in report


def test_a_pdf_saved_again_after_sealing_says_why_it_fails_and_what_to_ask_for(
        pki: Pki, catalog: Catalog, license_pdf: bytes, usage_pdf: bytes, status_token: str) -> None:
    """The holder opened her 结婚证 in a PDF editor and saved it with a note: the clerk reads that
    the file was changed after sealing and to ask for the original, as for a certificate, not only
    that a signature failed."""
    from api.labels import license_outcome
    from tests.seals.test_pades import _forge_info, incremental_update

    for pdf in (license_pdf, usage_pdf):
        verdict = verify(pki, catalog, incremental_update(pdf, _forge_info), status_token)
        [told] = [c for c in verdict.to_dict()["checks"] if c["check"] == "pdf_signature"]
        assert (verdict.status.value, told["code"]) == ("INVALID", "pdf_signature_invalid")
        assert "签名后文件被修改" in told["message_zh"] and "原始文件" in told["message_zh"], told["message_zh"]
        (label, _english, _kind), headline = license_outcome(verdict)  # the conclusion, first on the page
        assert label == "无效" and "签名后文件被修改" in headline and "原始文件" in headline, headline
        assert "签章" not in headline, headline  # one word for it, as in the row
        # nothing the file carries is vouched for: no row says its content is intact, no item is shown
        integrity = next(c for c in verdict.to_dict()["checks"] if c["check"] == "integrity")
        assert integrity["status"] == "INVALID" and "未被篡改" not in integrity["message_zh"], integrity
        assert verdict.items == () and verdict.license.content is None


def test_the_usage_copy_prints_the_use_as_written_markup_characters_included(
        pki: Pki, catalog: Catalog, credential: str, tmp_path: Path) -> None:
    """What a department wrote as the use (`<b>`, `&amp;`, `<1>`) is text on the page, as in the credential."""
    use = replace(USE, purpose_zh="资格审核<b>婚姻</b> a&amp;b", case_number="GZF<2026>&1")
    copy = make_usage_copy(credential, ["marital_status"], use, pki.signer("SJ"), catalog.departments["SJ"].uscc,
                           now=NOW, valid_until=NOW + timedelta(days=30))
    pdf = issue_usage_copy_pdf(copy.token, catalog.licenses["MARRIAGE_CERTIFICATE"], pki.signer("SJ"),
                               catalog.departments["SJ"].legal_name_zh)
    text = page_text(pdf, tmp_path)
    assert "资格审核<b>婚姻</b> a&amp;b" in text and "GZF<2026>&1" in text


def test_a_pdf_made_after_the_issuers_seal_was_rotated_verifies(catalog: Catalog, tmp_path: Path) -> None:
    """The holder downloads her 结婚证 after 民政局 rotated its seal (as it does on schedule, and
    `init` does under a new address): the page is sealed by the seal in use now, the credential
    by the one before it; both are 民政局's, so it verifies. A page sealed by another
    department's seal, or by 民政局's seal once revoked for key compromise, does not."""
    for pki in make_pki(tmp_path, catalog, ("MZ", "SJ")):
        content = build_license_content(
            license_type=catalog.licenses["MARRIAGE_CERTIFICATE"], department=catalog.departments["MZ"],
            holder=HOLDER.held_by(), items=ITEMS, serial=8, version=1, supersedes=None,
            status=StatusEntry(LIST_URL, INDEX), issued_at=ISSUED_AT, valid_from=ISSUED_AT, valid_until=None)
        signed = sign_license(content, pki.signer("MZ"))
        status = sign_status_list(StatusList.empty(LIST_URL), pki.signer("SJ"), now=ISSUED_AT)
        license_type = catalog.licenses["MARRIAGE_CERTIFICATE"]
        rotate_seal(pki.session, pki.settings, "MZ")
        after = issue_license_pdf(signed, license_type, pki.signer("MZ"))
        assert verify(pki, catalog, after, status).status.value == "VALID", checks(verify(pki, catalog, after, status))
        by_another = issue_license_pdf(signed, license_type, pki.signer("SJ"))
        assert checks(verify(pki, catalog, by_another, status))["pdf_signature"] == ("INVALID", "pdf_mismatch")
        revoke_seal(pki.session, pki.settings, "MZ", reason=RevocationReason.KEY_COMPROMISE)
        pki.session.commit()
        assert verify(pki, catalog, after, status).status.value == "INVALID"
