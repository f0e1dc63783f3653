"""PAdES signing and PDF verification: our verifier, and poppler's pdfsig as an outside judge."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from seals import ca, registry
from seals.errors import SigningFailed
from seals.keys import FileKeySigner
from seals.pades import CmsSealSigner, sign_pdf
from seals.trust import TrustStore
from seals.verdict import Check, Status
from seals.verify_pdf import verify_pdf
from tests.seals.conftest import DEPARTMENT_NAME, Pki
from tests.seals.tsa import make_tsa, serving
from tests.support.pdf_tools import nss_db_trusting, run_pdfsig, signed_whole

@pytest.fixture(scope="module")
def signed_pdf(pki: Pki, unsigned_pdf: bytes) -> bytes:
    return sign_pdf(unsigned_pdf, pki.signer(), reason="电子证明", location="金华市")


def test_signed_pdf_is_valid(pki: Pki, signed_pdf: bytes) -> None:
    verdict = verify_pdf(signed_pdf, pki.trust())
    assert verdict.status is Status.VALID, verdict.to_dict()
    assert verdict.result(Check.INTEGRITY).code == "signature_valid"
    assert verdict.signer is not None and verdict.signer.organization == "金华市自然资源和规划局"
    assert verdict.signing_time_source == "claimed"


def test_pdfsig_reports_valid_signature_and_trusted_certificate(
    pki: Pki, signed_pdf: bytes, tmp_path: Path
) -> None:
    untrusted = run_pdfsig(signed_pdf, tmp_path)
    assert "Signature is Valid" in untrusted
    assert "Certificate is Trusted" not in untrusted

    nss_dir = nss_db_trusting(pki.trust().root.public_bytes(Encoding.PEM), tmp_path)
    trusted = run_pdfsig(signed_pdf, tmp_path, nss_dir)
    assert "Signature is Valid" in trusted and signed_whole(trusted)
    assert "Certificate is Trusted" in trusted


def test_one_changed_byte_is_a_digest_mismatch(pki: Pki, signed_pdf: bytes, tmp_path: Path) -> None:
    position = signed_pdf.index(b"ZHANG San")
    tampered = signed_pdf[:position] + b"W" + signed_pdf[position + 1 :]
    verdict = verify_pdf(tampered, pki.trust())
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).code == "digest_mismatch"
    assert "Signature is Valid" not in run_pdfsig(tampered, tmp_path)


def test_incremental_update_that_changes_content_is_detected(pki: Pki, signed_pdf: bytes, tmp_path: Path) -> None:
    """The page redrawn in an update after signing: the signed bytes are intact, so pdfsig still
    says the signature is valid, but no longer that it covers the whole document."""
    writer = IncrementalPdfFileWriter(BytesIO(signed_pdf))
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    forged = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (NOT ELIGIBLE) Tj ET")
    page["/Contents"] = writer.add_object(forged)
    writer.update_container(page)
    output = BytesIO()
    writer.write(output)
    verdict = verify_pdf(output.getvalue(), pki.trust())
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).code == "modified_after_signing"
    told = verdict.result(Check.INTEGRITY).message_zh  # the verifier's reason: Chinese, and what to do
    assert not re.search("[A-Za-z]", told) and "原始文件" in told, told
    report = run_pdfsig(output.getvalue(), tmp_path)
    assert "Signature is Valid" in report and not signed_whole(report)
    assert signed_whole(run_pdfsig(signed_pdf, tmp_path))


def test_document_timestamp_update_is_benign(pki: Pki, signed_pdf: bytes) -> None:
    """The time-stamping writer refreshes the Info and XMP modification dates: that is allowed."""
    tsa = make_tsa()
    time.sleep(1.1)  # so that the refreshed dates differ from the signed revision's
    output = PdfTimeStamper(tsa.stamper).timestamp_pdf(
        IncrementalPdfFileWriter(BytesIO(signed_pdf)), md_algorithm="sha256"
    )
    verdict = verify_pdf(output.getvalue(), pki.trust())
    assert verdict.status is Status.VALID, verdict.to_dict()
    assert verdict.result(Check.INTEGRITY).code == "signature_valid_benign_update"


def test_pades_b_t_uses_the_time_stamp_as_signing_time(pki: Pki, unsigned_pdf: bytes) -> None:
    tsa = make_tsa()
    with serving(tsa) as url:
        signed = sign_pdf(unsigned_pdf, pki.signer(), tsa_url=url)
    with_tsa_root = replace(pki.trust(), timestamp_roots=(tsa.root,))
    verdict = verify_pdf(signed, with_tsa_root)
    assert verdict.status is Status.VALID, verdict.to_dict()
    assert verdict.signing_time_source == "timestamp"
    # without the TSA root configured the token is not trusted: the claimed time is used
    assert verify_pdf(signed, pki.trust()).signing_time_source == "claimed"


def test_unreachable_tsa_fails_signing(pki: Pki, unsigned_pdf: bytes) -> None:
    with pytest.raises(SigningFailed):
        sign_pdf(unsigned_pdf, pki.signer(), tsa_url="http://127.0.0.1:9/tsa")


def test_unsigned_and_garbage_pdfs(pki: Pki, unsigned_pdf: bytes) -> None:
    assert verify_pdf(unsigned_pdf, pki.trust()).result(Check.INTEGRITY).code == "not_signed"
    garbage = verify_pdf(b"%PDF-1.7 not really", pki.trust())
    assert garbage.status is Status.INVALID
    assert garbage.result(Check.INTEGRITY).code == "malformed"
    assert garbage.result(Check.CHAIN).status is Status.SKIPPED


def test_seal_from_another_root_is_untrusted(pki: Pki, unsigned_pdf: bytes) -> None:
    other = ca.create_root("另一个根证书", "他市数据局")
    key = ca.generate_key()
    certificate = ca.issue_seal_certificate(
        other,
        key.public_key(),
        department_name="金华市自然资源和规划局",
        uscc="11330700MB1234567X",
        crl_url="http://127.0.0.1/crl.der",
        validity=ca.ROOT_VALIDITY / 20,
    )
    signed = sign_pdf(unsigned_pdf, FileKeySigner(key, (certificate, other.certificate)))
    verdict = verify_pdf(signed, pki.trust())
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).status is Status.VALID
    assert verdict.result(Check.CHAIN).code == "untrusted_root"
    assert verdict.result(Check.SEAL_STATUS).status is Status.SKIPPED


def _stock_signer(signer: FileKeySigner) -> signers.SimpleSigner:
    """pyHanko's own signer with the seal's key and chain."""
    chain = [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in signer.certificate_chain]
    return signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=asn1_keys.PrivateKeyInfo.load(
            signer.private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(chain[1:]),  # the other certificates, as pyHanko means it
    )


def _signed_data(pdf: bytes):  # type: ignore[no-untyped-def]
    return PdfFileReader(BytesIO(pdf)).embedded_signatures[0].signed_data


def _signed_attributes(pdf: bytes) -> dict[str, list[bytes]]:
    signer_info = _signed_data(pdf)["signer_infos"][0]
    return {a["type"].native: [v.dump() for v in a["values"]] for a in signer_info["signed_attrs"]}


def test_cms_is_the_one_pyhanko_writes_itself(pki: Pki, unsigned_pdf: bytes, signed_pdf: bytes) -> None:
    """Our signer assembles the CMS from material kept per seal: it carries the same signed
    attributes, algorithms and certificates as a PAdES signature by pyHanko's stock signer."""
    stock = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(unsigned_pdf)),
        signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES),
        signer=_stock_signer(pki.signer()),
    ).getvalue()
    ours, theirs = _signed_attributes(signed_pdf), _signed_attributes(stock)
    assert list(ours) == list(theirs) == ["content_type", "message_digest", "signing_certificate_v2"]
    assert ours["signing_certificate_v2"] == theirs["signing_certificate_v2"]
    assert ours["content_type"] == theirs["content_type"]
    for field in ("digest_algorithm", "signature_algorithm", "sid"):
        assert _signed_data(signed_pdf)["signer_infos"][0][field].dump() == _signed_data(stock)["signer_infos"][0][field].dump()
    assert sorted(c.dump() for c in _signed_data(signed_pdf)["certificates"]) == sorted(
        c.dump() for c in _signed_data(stock)["certificates"]
    )
    assert verify_pdf(stock, pki.trust()).status is Status.VALID


def test_the_cms_carries_the_seal_certificate_and_the_root_once_each(pki: Pki, signed_pdf: bytes) -> None:
    """A verifier building the chain from the signature finds each certificate once."""
    carried = sorted(c.chosen.dump() for c in _signed_data(signed_pdf)["certificates"])
    chain = sorted(c.public_bytes(Encoding.DER) for c in pki.signer().certificate_chain)
    assert carried == chain and len(chain) == 2


def test_each_seal_is_named_in_its_own_signatures(fresh_pki: Pki, unsigned_pdf: bytes) -> None:
    """Signing with one seal, then another, then the first again: each signature names and
    verifies as the seal that made it."""
    registry.issue_seal(fresh_pki.session, fresh_pki.settings, department_code="JH_MZ", department_name="金华市民政局",
                        uscc="11330700MB7654321Y")
    first, second = fresh_pki.signer(), fresh_pki.signer("JH_MZ")
    for signer, organization in ((first, DEPARTMENT_NAME), (second, "金华市民政局"), (first, DEPARTMENT_NAME)):
        signed = sign_pdf(unsigned_pdf, signer)
        reference = tsp.SigningCertificateV2.load(_signed_attributes(signed)["signing_certificate_v2"][0])
        certificate = signer.certificate_chain[0].public_bytes(Encoding.DER)
        assert reference["certs"][0]["cert_hash"].native == hashlib.sha256(certificate).digest()
        verdict = verify_pdf(signed, fresh_pki.trust())
        assert verdict.status is Status.VALID, verdict.to_dict()
        assert verdict.signer is not None and verdict.signer.organization == organization


def test_weak_digest_is_not_accepted(pki: Pki, unsigned_pdf: bytes) -> None:
    """A signature over SHA-512 made directly with pyHanko and the seal key is refused."""
    raw = _stock_signer(pki.signer())
    output = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(unsigned_pdf)),
        signers.PdfSignatureMetadata(field_name="Seal", md_algorithm="sha512"),
        signer=raw,
    )
    verdict = verify_pdf(output.getvalue(), pki.trust())
    assert verdict.result(Check.INTEGRITY).code == "alg_not_allowed"


def test_trust_store_export_round_trip_verifies_offline(pki: Pki, signed_pdf: bytes, tmp_path: Path) -> None:
    pki.trust().export(tmp_path / "trust")
    assert verify_pdf(signed_pdf, TrustStore.load(tmp_path / "trust")).status is Status.VALID


def incremental_update(signed_pdf: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    """`signed_pdf` with one incremental update made by `change(writer)`."""
    writer = IncrementalPdfFileWriter(BytesIO(signed_pdf))
    change(writer)
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


def _forge_info(writer: IncrementalPdfFileWriter) -> None:
    reference = writer.trailer.raw_get("/Info")
    info = reference.get_object()
    info["/Title"] = generic.TextStringObject("有房证明")
    info["/Keywords"] = generic.TextStringObject("本证明已作废")
    writer.mark_update(reference)


def _forge_xmp(writer: IncrementalPdfFileWriter) -> None:
    """A dc:title added to the document's XMP metadata stream, which readers show as its title."""
    reference = writer.root.raw_get("/Metadata")
    stream = reference.get_object()
    title = ('<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt>'
             '<rdf:li xml:lang="x-default">有房证明</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF>')
    forged = stream.data.replace(b"</rdf:RDF>", title.encode("utf-8"))
    writer.objects[(reference.generation, reference.idnum)] = generic.StreamObject(dict(stream), stream_data=forged)


@pytest.mark.parametrize("change", [_forge_info, _forge_xmp], ids=["info", "xmp"])
def test_metadata_changed_after_signing_is_refused(pki: Pki, signed_pdf: bytes, change) -> None:  # type: ignore[no-untyped-def]
    """A reader shows the forged title; only DSS and document time-stamp updates may follow a seal."""
    verdict = verify_pdf(incremental_update(signed_pdf, change), pki.trust())
    assert verdict.status is Status.INVALID, verdict.to_dict()
    assert verdict.result(Check.INTEGRITY).code == "modified_after_signing"


def test_bytes_after_the_end_of_file_are_refused(pki: Pki, signed_pdf: bytes) -> None:
    verdict = verify_pdf(signed_pdf + "\n% 本证明已作废\n".encode(), pki.trust())
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).code == "modified_after_signing"


def test_malformed_claimed_signing_time_gives_a_verdict(pki: Pki, signed_pdf: bytes) -> None:
    position = signed_pdf.index(b"/M (D\\072") + len(b"/M (D\\072")  # the year's first digit
    tampered = signed_pdf[:position] + b"X" + signed_pdf[position + 1:]
    verdict = verify_pdf(tampered, pki.trust())
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).code == "malformed"



def test_threads_never_share_a_chain_they_parse_lazily(pki: Pki, unsigned_pdf: bytes) -> None:
    """asn1crypto parses lazily, writing into the objects as they are read: a thread that read the
    chain another thread was still parsing saw half a certificate (`KeyError: No field numbered
    2`, concurrent issuance). Each thread signs with the chain parsed for it, kept for its next
    signature."""
    signer, trust = pki.signer(), pki.trust()
    start = threading.Barrier(2)
    parsed: dict[str, list[object]] = {}

    def sign_twice() -> None:
        start.wait()
        parsed[threading.current_thread().name] = [CmsSealSigner(signer).signing_cert for _ in range(2)]
        assert verify_pdf(sign_pdf(unsigned_pdf, signer), trust).result(Check.INTEGRITY).status is Status.VALID

    threads = [threading.Thread(target=sign_twice, name=f"issuer-{number}") for number in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = parsed["issuer-0"], parsed["issuer-1"]
    assert first[0] is first[1] and second[0] is second[1]  # kept per thread
    assert first[0] is not second[0]


@pytest.mark.parametrize("shift", [7, 200])
def test_an_update_after_signing_that_no_parser_can_follow_is_a_change_not_a_damaged_file(
        pki: Pki, signed_pdf: bytes, tmp_path: Path, shift: int) -> None:
    """The page redrawn in an update whose final startxref points a few bytes off: readers still
    show the forged page and pdfsig says the signature is valid, but the verifier cannot parse the
    file. It must not be called unreadable (无法读取, "no sign of forgery, ask for it again"): bytes
    follow the signed revision, so it was changed after signing. A file cut short stays unreadable."""
    def redraw(writer: IncrementalPdfFileWriter) -> None:
        page_ref, _ = writer.find_page_for_modification(0)
        page = page_ref.get_object()
        forged = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (OWNS 3) Tj ET")
        page["/Contents"] = writer.add_object(forged)
        writer.update_container(page)
    updated = incremental_update(signed_pdf, redraw)
    head, _, tail = updated.rpartition(b"startxref")
    offset, _, rest = tail.strip().partition(b"\n")
    forged = head + b"startxref\n" + str(int(offset) + shift).encode() + b"\n" + rest
    assert "Signature is Valid" in run_pdfsig(forged, tmp_path)
    verdict = verify_pdf(forged, pki.trust())
    assert (verdict.status, verdict.result(Check.INTEGRITY).code) == (Status.INVALID, "modified_after_signing")

    cut_short = verify_pdf(signed_pdf[:len(signed_pdf) // 2], pki.trust())
    assert cut_short.result(Check.INTEGRITY).code == "malformed"
    # line endings or text encoding changed on the way lengthen the file inside what was signed:
    # damaged, not added to (recheck: called 无效 for a CRLF-converted download)
    for damaged in (signed_pdf.replace(b"\n", b"\r\n"), signed_pdf.decode("latin-1").encode("utf-8")):
        assert verify_pdf(damaged, pki.trust()).result(Check.INTEGRITY).code == "malformed"
