"""One verdict for three forms: round trips, equal verdicts, and each way a certificate is refused."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import replace
from datetime import timedelta

import base45
import cbor2
import pytest

from core.canonical import canonical_json
from catalog.model import Catalog
from exchange.certificates.credential import sign_credential
from exchange.certificates.model import CertificateContent
from exchange.certificates.pdf import attach_credential, qr_text, render_pdf
from exchange.certificates.qr_payload import PREFIX, QrContent
from exchange.certificates.status_list import StatusList, sign_status_list
from exchange.certificates.verdict import CertificateCheck, CertificateVerdict
from exchange.certificates.verify import named_status_list, read_form, verify_certificate
from seals import ca, registry
from seals.ecdsa_raw import P256_ORDER
from seals.pades import sign_pdf
from seals.trust import TrustStore
from seals.verdict import Check, Status

from .conftest import ID_NUMBER, ISSUED_AT, LIST_URL, NOW, Issued, Pki, issue_all, no_housing_content

FORMS = ("pdf", "credential", "qr")


def form(issued: Issued, name: str) -> bytes | str:
    return {"pdf": issued.pdf, "credential": issued.credential, "qr": issued.qr}[name]


def codes(verdict: CertificateVerdict) -> list[tuple[str, str, str]]:
    return [(result.check.value, result.status.value, result.code) for result in verdict.checks]


@pytest.mark.parametrize("name", FORMS)
def test_each_form_verifies(issued: Issued, trust: TrustStore, status_list_token: str, name: str) -> None:
    verdict = verify_certificate(form(issued, name), trust, status_list_token, id_number=ID_NUMBER, now=NOW)
    assert verdict.form == name
    assert verdict.valid, codes(verdict)
    assert [result.check for result in verdict.checks] == [*Check, *CertificateCheck]
    assert verdict.content is not None and verdict.content["identifier"] == issued.content.identifier
    assert verdict.signer is not None and verdict.signer.organization == "金华市不动产登记中心"
    json.dumps(verdict.to_dict(), ensure_ascii=False)  # JSON-able for the API


def test_the_three_forms_give_equal_verdicts(issued: Issued, trust: TrustStore, status_list_token: str) -> None:
    verdicts = [verify_certificate(form(issued, name), trust, status_list_token, now=NOW) for name in FORMS]
    assert codes(verdicts[0]) == codes(verdicts[1]) == codes(verdicts[2])
    full = issued.content.to_dict()
    assert verdicts[0].content == verdicts[1].content == full
    qr = verdicts[2].content
    assert qr is not None
    assert {key: full[key] for key in qr if key != "fields"} == {key: value for key, value in qr.items() if key != "fields"}
    assert qr["fields"] == [{"name": field["name"], "value": field["value"]} for field in full["fields"]]


def test_a_payload_copied_from_the_verification_address_verifies(issued: Issued, trust: TrustStore,
                                                                  status_list_token: str) -> None:
    """The QR holds `…/v#MZ2:…` with the payload's spaces and `%` percent-encoded: a verifier who
    pastes only what follows `#` gets the payload's verdict, not 无法读取."""
    fragment = qr_text(issued.content, issued.qr).partition("#")[2]
    assert fragment != issued.qr and "%" in fragment
    pasted = verify_certificate(fragment, trust, status_list_token, now=NOW)
    assert pasted.valid and pasted.to_dict()["checks"] == verify_certificate(
        issued.qr, trust, status_list_token, now=NOW).to_dict()["checks"]


def test_an_address_wrapped_by_a_mail_client_verifies(issued: Issued, trust: TrustStore,
                                                      status_list_token: str) -> None:
    """The verification address pasted from an e-mail whose client wrapped it with a space
    before each line break (format=flowed, as many do): an address holds no space of its own
    (the payload's are %20), so the verdict is the payload's, not 无法读取."""
    address = qr_text(issued.content, issued.qr)
    flowed = " \r\n".join(address[i:i + 50] for i in range(0, len(address), 50))
    assert verify_certificate(flowed, trust, status_list_token, now=NOW).valid


def test_the_list_a_credential_names_is_read_ahead_only_as_a_hint(issued: Issued) -> None:
    """A server reads the list a credential names with its trust material; the hint is the
    signed content's own list, and anything unreadable gives no hint (the list is then read when
    the verified certificate names it)."""
    wrapped = "\n".join(issued.credential[i:i + 64] for i in range(0, len(issued.credential), 64))
    assert named_status_list(read_form(wrapped)) == issued.content.status.list_url
    header, _, signature = issued.credential.split(".")
    escaped = base64.urlsafe_b64encode(b'{"status": {"list_url":"http:\\/\\/x"}}').decode().rstrip("=")
    for text in (issued.pdf, issued.qr, "not.a.jws", f"{header}.{escaped}.{signature}", "a.b"):
        assert named_status_list(read_form(text)) is None


def test_without_status_list_and_id_number_those_checks_are_skipped(issued: Issued, trust: TrustStore) -> None:
    verdict = verify_certificate(issued.credential, trust, None, now=NOW)
    assert verdict.result(CertificateCheck.CERTIFICATE_STATUS).code == "status_list_unavailable"
    assert verdict.result(CertificateCheck.HOLDER_BINDING).status is Status.SKIPPED
    assert verdict.valid


@pytest.mark.parametrize("name", FORMS)
def test_wrong_holder_is_refused(issued: Issued, trust: TrustStore, name: str) -> None:
    verdict = verify_certificate(form(issued, name), trust, None, id_number="330702199003071241", now=NOW)
    assert verdict.result(CertificateCheck.HOLDER_BINDING).code == "holder_mismatch"
    assert verdict.status is Status.INVALID


@pytest.mark.parametrize("name", FORMS)
def test_a_verifier_whose_clock_is_a_little_behind_takes_a_fresh_certificate(issued: Issued, trust: TrustStore,
                                                                              name: str) -> None:
    """A bank's PC runs a few seconds (or minutes) slow: a certificate shown right after it was
    issued is valid there, as its seal's signature is; one claiming to take effect well after the
    verifier's time is not."""
    for behind, status in ((timedelta(seconds=5), Status.VALID), (timedelta(minutes=4), Status.VALID),
                           (timedelta(minutes=6), Status.INVALID)):
        verdict = verify_certificate(form(issued, name), trust, None, now=issued.content.valid_from - behind)
        result = verdict.result(CertificateCheck.VALIDITY_WINDOW)
        assert result.status is status, (behind, result.code)


@pytest.mark.parametrize("name", FORMS)
def test_valid_through_the_last_second_it_states(issued: Issued, trust: TrustStore, name: str) -> None:
    """A validity ends with the second it states (a record's last day ends at 23:59:59): a
    verifier whose clock reads 23:59:59.5 of that day still takes it, one second later not."""
    assert issued.content.valid_until is not None
    for after, status in ((timedelta(milliseconds=500), Status.VALID), (timedelta(seconds=1), Status.INVALID)):
        verdict = verify_certificate(form(issued, name), trust, None, now=issued.content.valid_until + after)
        assert verdict.result(CertificateCheck.VALIDITY_WINDOW).status is status, after


@pytest.mark.parametrize("name", FORMS)
def test_expired(issued: Issued, trust: TrustStore, name: str) -> None:
    assert issued.content.valid_until is not None
    later = issued.content.valid_until + timedelta(seconds=1)
    verdict = verify_certificate(form(issued, name), trust, None, now=later)
    result = verdict.result(CertificateCheck.VALIDITY_WINDOW)
    assert (result.status, result.code) == (Status.INVALID, "certificate_expired")
    assert verdict.status is Status.INVALID


@pytest.mark.parametrize("name", FORMS)
def test_revoked_with_reason(issued: Issued, trust: TrustStore, revoked_list_token: str, name: str) -> None:
    verdict = verify_certificate(form(issued, name), trust, revoked_list_token, now=NOW)
    result = verdict.result(CertificateCheck.CERTIFICATE_STATUS)
    assert (result.status, result.code) == (Status.INVALID, "certificate_revoked")
    assert "证明所依据的信息已变更" in result.message_zh
    assert verdict.revocation_reason == "data_changed"
    assert verdict.status is Status.INVALID


def test_a_status_list_signed_by_another_departments_seal_revokes_nothing_and_clears_nothing(
        catalog: Catalog, issued: Issued, pki: Pki, trust: TrustStore) -> None:
    """Only the exchange's seal signs the city's status lists. A list the registry's own seal signed
    (or any other department's, by insider or mistake) that leaves a revoked certificate out does not
    make it valid again: the verifier, told the exchange, calls the list invalid (ERROR)."""
    exchange = catalog.departments["SJ"].uscc
    forged = sign_status_list(StatusList.empty(LIST_URL), pki.signer("BDC"), now=ISSUED_AT)
    verdict = verify_certificate(issued.credential, trust, forged, now=NOW, exchange_uscc=exchange)
    assert verdict.result(CertificateCheck.CERTIFICATE_STATUS).code == "status_list_not_by_exchange"
    assert "不是由本市数据交换平台的印章签发" in verdict.result(CertificateCheck.CERTIFICATE_STATUS).message_zh
    assert verdict.status is Status.ERROR
    genuine = sign_status_list(StatusList.empty(LIST_URL), pki.signer("SJ"), now=ISSUED_AT)
    assert verify_certificate(issued.credential, trust, genuine, now=NOW, exchange_uscc=exchange).valid


def test_a_stale_status_list_is_an_error(issued: Issued, trust: TrustStore, status_list_token: str) -> None:
    verdict = verify_certificate(issued.credential, trust, status_list_token, now=NOW + timedelta(days=2))
    assert verdict.result(CertificateCheck.CERTIFICATE_STATUS).code == "status_list_stale"
    assert verdict.status is Status.ERROR


@pytest.mark.parametrize(("name", "check", "code"), [
    ("pdf", Check.CHAIN, "untrusted_root"),
    ("credential", Check.CHAIN, "untrusted_root"),
    ("qr", Check.INTEGRITY, "certificate_missing"),  # the QR names its seal by kid only
])
def test_resigned_by_another_root(
    catalog: Catalog, other_pki: Pki, trust: TrustStore, name: str, check: Check, code: str
) -> None:
    forged = issue_all(no_housing_content(catalog), other_pki.signer("BDC"))
    verdict = verify_certificate(form(forged, name), trust, None, now=NOW)
    assert (verdict.result(check).status, verdict.result(check).code) == (Status.INVALID, code)
    assert verdict.status is Status.INVALID


def test_another_departments_seal_cannot_issue_in_the_registrys_name(
    issued: Issued, pki: Pki, trust: TrustStore
) -> None:
    token = sign_credential(issued.content, pki.signer("SJ"))
    verdict = verify_certificate(token, trust, None, now=NOW)
    assert verdict.result(CertificateCheck.ISSUER).code == "issuer_mismatch"
    assert verdict.status is Status.INVALID


def test_pdf_byte_changed(issued: Issued, trust: TrustStore) -> None:
    original = b"0000000042.01"
    assert original in issued.pdf
    edited = issued.pdf.replace(original, b"0000000043.01", 1)
    verdict = verify_certificate(edited, trust, None, now=NOW)
    assert verdict.result(Check.INTEGRITY).status is Status.INVALID
    assert verdict.status is Status.INVALID


def test_jws_payload_changed(issued: Issued, trust: TrustStore) -> None:
    header, payload, signature = issued.credential.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["holder"]["name"] = "李四"
    edited_payload = base64.urlsafe_b64encode(canonical_json(claims)).rstrip(b"=").decode()
    verdict = verify_certificate(f"{header}.{edited_payload}.{signature}", trust, None, now=NOW)
    assert verdict.result(Check.INTEGRITY).code == "signature_mismatch"
    assert verdict.status is Status.INVALID


def test_qr_changed(issued: Issued, trust: TrustStore) -> None:
    message = cbor2.loads(zlib.decompress(base45.b45decode(issued.qr[len(PREFIX) :])))
    protected, unprotected, payload, signature = message.value
    content = list(cbor2.loads(payload))
    content[4] = "李四"  # holder name
    edited = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), cbor2.dumps(content), signature]))
    verdict = verify_certificate(PREFIX + base45.b45encode(zlib.compress(edited)).decode(), trust, None, now=NOW)
    assert verdict.result(Check.INTEGRITY).code == "signature_mismatch"
    assert verdict.status is Status.INVALID


def _qr_parts(qr: str) -> tuple[bytes, dict, bytes, bytes]:
    protected, unprotected, payload, signature = cbor2.loads(zlib.decompress(base45.b45decode(qr[len(PREFIX):]))).value
    return protected, dict(unprotected), payload, signature


def _qr_of(parts: tuple[bytes, dict, bytes, bytes], tail: bytes = b"", *, inside: bytes = b"",
           tagged: bool = True) -> str:
    message = cbor2.CBORTag(18, list(parts)) if tagged else list(parts)
    compressed = zlib.compress(cbor2.dumps(message) + inside) + tail
    return PREFIX + base45.b45encode(compressed).decode()


def test_qr_forgeries_without_the_key_are_refused(issued: Issued, trust: TrustStore) -> None:
    """The high-S twin of the signature, a changed unprotected header, data after the zlib stream
    or after the signed message inside it, and the message without its COSE tag each leave the
    signature intact for a lax verifier; ours refuses them: a QR payload has one encoding."""
    protected, unprotected, payload, signature = _qr_parts(issued.qr)
    assert unprotected == {}
    assert verify_certificate(_qr_of((protected, unprotected, payload, signature)), trust, None, now=NOW).valid
    s = int.from_bytes(signature[32:], "big")
    twin = signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
    forgeries = {
        "high-s": (_qr_of((protected, unprotected, payload, twin)), "signature_mismatch"),
        "unprotected": (_qr_of((protected, {1: -37}, payload, signature)), "malformed"),
        "trailing": (_qr_of((protected, unprotected, payload, signature), b"forged"), "malformed"),
        "trailing-cbor": (_qr_of((protected, unprotected, payload, signature), inside=cbor2.dumps("forged")),
                          "malformed"),
        "untagged": (_qr_of((protected, unprotected, payload, signature), tagged=False), "malformed"),
    }
    for name, (qr, code) in forgeries.items():
        verdict = verify_certificate(qr, trust, None, now=NOW)
        assert verdict.status is Status.INVALID, name
        assert verdict.result(Check.INTEGRITY).code == code, name


def test_attachment_swapped_before_signing(catalog: Catalog, issued: Issued, pki: Pki, trust: TrustStore) -> None:
    """A genuine seal signs a page of one certificate carrying another certificate's credential."""
    other = sign_credential(no_housing_content(catalog, serial=43), pki.signer("BDC"))
    pdf = sign_pdf(attach_credential(render_pdf(issued.content, issued.qr), other), pki.signer("BDC"))
    verdict = verify_certificate(pdf, trust, None, now=NOW)
    result = verdict.result(Check.INTEGRITY)
    assert (result.status, result.code) == (Status.INVALID, "credential_mismatch")


def test_a_page_sealed_by_another_department_around_a_genuine_credential_says_so(
        issued: Issued, pki: Pki, trust: TrustStore) -> None:
    """The registry's genuine credential, its page re-sealed with another department's genuine seal
    (the exchange's): pdfsig calls that signature valid and the page agrees with the credential,
    so the verdict must name what is wrong, the seal, not a disagreement of page and credential."""
    pdf = sign_pdf(attach_credential(render_pdf(issued.content, issued.qr), issued.credential), pki.signer("SJ"))
    result = verify_certificate(pdf, trust, None, now=NOW).result(Check.INTEGRITY)
    assert (result.status, result.code) == (Status.INVALID, "credential_seal_mismatch")
    assert "不一致" not in result.message_zh and "印章" in result.message_zh, result.message_zh


def test_attachment_swapped_after_signing(catalog: Catalog, issued: Issued, pki: Pki, trust: TrustStore) -> None:
    other = sign_credential(no_housing_content(catalog, serial=43), pki.signer("BDC"))
    verdict = verify_certificate(attach_credential(issued.pdf, other), trust, None, now=NOW)
    result = verdict.result(Check.INTEGRITY)
    assert (result.status, result.code) == (Status.INVALID, "modified_after_signing")


def test_attachment_missing_or_broken(issued: Issued, pki: Pki, trust: TrustStore) -> None:
    bare = sign_pdf(render_pdf(issued.content, issued.qr), pki.signer("BDC"))
    assert verify_certificate(bare, trust, None, now=NOW).result(Check.INTEGRITY).code == "credential_missing"
    header, payload, signature = issued.credential.split(".")
    broken = f"{header}.{payload}.{signature[:-4]}AAAA"
    pdf = sign_pdf(attach_credential(render_pdf(issued.content, issued.qr), broken), pki.signer("BDC"))
    assert verify_certificate(pdf, trust, None, now=NOW).result(Check.INTEGRITY).code == "credential_invalid"


def test_signed_json_that_is_not_a_certificate(pki: Pki, trust: TrustStore) -> None:
    from seals.jws import sign_jws

    token = sign_jws({"hello": "world"}, pki.signer("BDC"), typ="mianzheng-ecert+jwt")
    verdict = verify_certificate(token, trust, None, now=NOW)
    assert verdict.result(Check.INTEGRITY).code == "not_a_certificate"


@pytest.mark.parametrize("garbage", [b"", b"%PDF-1.7 broken", "MZ1:not base45!", "a.b.c", "hello", b"\xff\xfe"])
def test_garbage_is_refused_not_raised(trust: TrustStore, garbage: bytes | str) -> None:
    verdict = verify_certificate(garbage, trust, None, now=NOW)
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).status is Status.INVALID


def test_content_round_trips(issued: Issued) -> None:
    content = issued.content
    assert CertificateContent.from_dict(json.loads(canonical_json(content.to_dict()))) == content
    assert QrContent.of(content).to_dict()["identifier"] == content.identifier
    assert replace(content, holder_name="李四") != content


def test_a_status_list_verified_again_and_again_sees_a_revocation_and_a_revoked_seal_at_once(
    issued: Issued, pki: Pki, trust: TrustStore, status_list_token: str, revoked_list_token: str
) -> None:
    """The list every verification reads is parsed, read and its signature checked once per process
    (keyed by the signed text): a revocation (a newly signed list) and a revoked list seal (a new
    CRL in the trust store) still count on the very next verification."""
    for _ in range(2):
        assert verify_certificate(issued.credential, trust, status_list_token, now=NOW).status is Status.VALID
    revoked = verify_certificate(issued.credential, trust, revoked_list_token, now=NOW)
    assert revoked.result(CertificateCheck.CERTIFICATE_STATUS).code == "certificate_revoked"

    list_seal = pki.signer("SJ").certificate_chain[0]
    crl = ca.build_crl(registry.load_ca(pki.session, pki.settings),
                       [ca.RevokedEntry(list_seal.serial_number, ISSUED_AT, ca.RevocationReason.KEY_COMPROMISE)],
                       crl_number=1_000, validity=timedelta(days=7), now=NOW - timedelta(hours=1))
    seal_revoked = TrustStore(trust.root, trust.seal_certificates, crl)
    verdict = verify_certificate(issued.credential, seal_revoked, status_list_token, now=NOW)
    assert verdict.result(CertificateCheck.CERTIFICATE_STATUS).code == "status_list_invalid"
    assert verdict.status is not Status.VALID
    assert verify_certificate(issued.credential, trust, status_list_token, now=NOW).status is Status.VALID
