"""A license version's three machine forms — credential, presentation (亮证), usage copy (加注件) —
signed with a throwaway city PKI and verified by our verifier and, independently, by jwcrypto."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import date, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk, jws

from catalog.model import Catalog, Subject
from exchange.certificates.model import HolderBinding, StatusEntry
from exchange.certificates.published_documents import PublishedDocuments
from exchange.certificates.status_list import StatusList, sign_status_list
from exchange.licenses.content import HolderIdentity, build_license_content, item_problems, validity_window
from exchange.licenses.credential import sign_license
from exchange.licenses.presentation import make_presentation
from exchange.licenses.sd_jwt import SEPARATOR, make_disclosure, parse_sd_jwt
from exchange.licenses.usage_copy import Use, make_usage_copy
from exchange.licenses.verify import verify_license
from tests.exchange.certificates.conftest import ISSUED_AT, Pki

HOLDER = HolderIdentity(Subject.PERSON, "王萱", "330784197608084585")
SPOUSE_ID = "330702199003071233"
LIST_URL = "http://127.0.0.1:8000/api/v1/status-lists/2"
INDEX = 1234
NOW = ISSUED_AT + timedelta(minutes=10)
ITEMS = {"certificate_no": "J330702-2020-000123", "full_name": "王萱", "id_number": HOLDER.number,
         "marital_status": "married", "registration_date": "2020-05-20", "spouse_name": "李明",
         "spouse_id_number": SPOUSE_ID, "registration_authority": "金华市婺城区民政局"}


@pytest.fixture(scope="module")
def credential(pki: Pki, catalog: Catalog) -> str:
    content = build_license_content(
        license_type=catalog.licenses["MARRIAGE_CERTIFICATE"], department=catalog.departments["MZ"], holder=HOLDER.held_by(),
        items=ITEMS, serial=7, version=1, supersedes=None, status=StatusEntry(LIST_URL, INDEX),
        issued_at=ISSUED_AT, valid_from=ISSUED_AT, valid_until=None)
    return sign_license(content, pki.signer("MZ"))


@pytest.fixture(scope="module")
def status_token(pki: Pki) -> str:
    return sign_status_list(StatusList.empty(LIST_URL), pki.signer("SJ"), now=ISSUED_AT)


def verify(pki: Pki, catalog: Catalog, text: str, token: str, **kwargs):  # type: ignore[no-untyped-def]
    sj = catalog.departments["SJ"].uscc
    return verify_license(text, pki.trust(), token, exchange_uscc=sj, catalog=catalog,
                          **{"now": NOW, **kwargs})


def codes(verdict) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {c["check"]: (c["status"], c["code"]) for c in verdict.to_dict()["checks"]}


def test_the_credential_verifies_and_an_independent_library_agrees(pki: Pki, catalog: Catalog, credential: str,
                                                                    status_token: str) -> None:
    verdict = verify(pki, catalog, credential, status_token, id_number=HOLDER.number)
    assert verdict.status.value == "VALID", verdict.to_dict()
    assert verdict.form == "license"
    shown = {row["name"]: row["value"] for row in verdict.items}
    assert shown == {**ITEMS, "id_number": "330784********4585", "spouse_id_number": "330702********1233"}
    assert codes(verdict)["holder_binding"] == ("VALID", "holder_matches")  # against the disclosed item: no digest
    assert "id_binding" not in verdict.to_dict()["content"]["holder"]
    identifier = verdict.to_dict()["content"]["identifier"]
    assert identifier.startswith("1.2.156.3005.2.2003.") and ".0000000007.01." in identifier

    # jwcrypto checks the issuer's signature with the seal certificate's key; hashlib the digests
    issuer_jwt, *disclosures, binding = credential.split(SEPARATOR)
    header = json.loads(base64.urlsafe_b64decode(issuer_jwt.split(".")[0] + "=="))
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    key = jwk.JWK.from_pem(leaf.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    checked = jws.JWS()
    checked.deserialize(issuer_jwt)
    checked.verify(key, alg="ES256")
    payload = json.loads(checked.payload)
    assert binding == "" and payload["_sd_alg"] == "sha-256" and "marital_status" not in json.dumps(payload)
    revealed = {}
    for disclosure in disclosures:
        digest = base64.urlsafe_b64encode(hashlib.sha256(disclosure.encode()).digest()).rstrip(b"=").decode()
        assert digest in payload["items"]["_sd"]
        _, name, value = json.loads(base64.urlsafe_b64decode(disclosure + "=" * (-len(disclosure) % 4)))
        revealed[name] = value
    assert revealed == ITEMS
    assert HOLDER.number not in payload["holder"]["id_masked"]


def test_a_forged_disclosure_is_refused(pki: Pki, catalog: Catalog, credential: str, status_token: str) -> None:
    parts = credential.split(SEPARATOR)
    forged = SEPARATOR.join([parts[0], *parts[1:4], make_disclosure("marital_status", "divorced"), ""])
    verdict = verify(pki, catalog, forged, status_token)
    assert verdict.status.value == "INVALID"
    assert codes(verdict)["integrity"] == ("INVALID", "disclosure_not_signed")


def test_a_presentation_shows_only_the_chosen_items_once(pki: Pki, catalog: Catalog, credential: str,
                                                         status_token: str) -> None:
    identifier = verify(pki, catalog, credential, status_token).to_dict()["content"]["identifier"]
    shown = make_presentation(credential, identifier, ["marital_status", "registration_date"], pki.signer("SJ"),
                              now=ISSUED_AT + timedelta(minutes=9), minutes=5)
    assert SPOUSE_ID not in shown.text and len(parse_sd_jwt(shown.text).disclosures) == 2
    used: set[tuple[str, str]] = set()

    def claim(license: str, nonce: str, _until: object) -> bool:
        first = (license, nonce) not in used
        used.add((license, nonce))
        return first

    first = verify(pki, catalog, shown.text, status_token, claim_nonce=claim)
    assert first.status.value == "VALID", first.to_dict()
    assert first.form == "presentation"
    assert {row["name"]: row["text_zh"] for row in first.items} == {"marital_status": "已婚",
                                                                    "registration_date": "2020年5月20日"}
    again = verify(pki, catalog, shown.text, status_token, claim_nonce=claim)
    assert again.status.value == "INVALID" and codes(again)["nonce"] == ("INVALID", "nonce_reused")

    late = verify(pki, catalog, shown.text, status_token, now=shown.expires_at + timedelta(seconds=1))
    assert late.status.value == "INVALID"
    assert codes(late)["presentation_freshness"] == ("INVALID", "presentation_expired")

    # adding a disclosure the holder did not choose breaks the binding
    spouse = next(d for d in parse_sd_jwt(credential).disclosures if "spouse_id_number" in
                  base64.urlsafe_b64decode(d + "==").decode())
    issuer_jwt, *chosen, binding = shown.text.split(SEPARATOR)
    widened = SEPARATOR.join([issuer_jwt, *chosen, spouse, binding])
    refused = verify(pki, catalog, widened, status_token)
    assert codes(refused)["presentation_binding"] == ("INVALID", "binding_mismatch")
    # the license itself holds: what is skipped says the binding failed, not the license
    assert codes(refused)["integrity"] == ("VALID", "signature_valid")
    said = codes_messages(refused)
    assert said["presentation_freshness"] == said["nonce"] == "亮证绑定或亮证时效未通过核验，跳过此项检查。", said


def test_a_presentation_bound_by_another_seal_is_refused(pki: Pki, catalog: Catalog, credential: str,
                                                          status_token: str) -> None:
    identifier = verify(pki, catalog, credential, status_token).to_dict()["content"]["identifier"]
    shown = make_presentation(credential, identifier, ["marital_status"], pki.signer("MZ"), now=NOW)
    verdict = verify(pki, catalog, shown.text, status_token)
    assert codes(verdict)["presentation_binding"] == ("INVALID", "binding_mismatch")


def test_a_usage_copy_is_valid_for_its_use_until_its_expiry(pki: Pki, catalog: Catalog, credential: str,
                                                            status_token: str) -> None:
    use = Use("PUBLIC_RENTAL_HOUSING", "公共租赁住房申请", "ZJ", "金华市住房和城乡建设局", "公租房资格审核（婚姻状况）",
              "GZF-2026-000123")
    copy = make_usage_copy(credential, ["marital_status", "spouse_name"], use, pki.signer("SJ"),
                           catalog.departments["SJ"].uscc, now=NOW, valid_until=NOW + timedelta(days=30))
    verdict = verify(pki, catalog, copy.token, status_token)
    assert verdict.status.value == "VALID", verdict.to_dict()
    assert verdict.form == "usage_copy" and verdict.usage is not None
    assert verdict.usage["department"] == "ZJ" and verdict.usage["matter"] == "PUBLIC_RENTAL_HOUSING"
    assert {row["name"] for row in verdict.items} == {"marital_status", "spouse_name"}
    assert "仅限" in codes_messages(verdict)["usage_seal"]

    expired = verify(pki, catalog, copy.token, status_token, now=NOW + timedelta(days=31))
    assert codes(expired)["usage_window"] == ("INVALID", "usage_expired")

    # a genuine seal of another department on a usage copy: said as such, not as an unreadable copy
    resealed = make_usage_copy(credential, ["marital_status"], use, pki.signer("MZ"),
                               catalog.departments["SJ"].uscc, now=NOW, valid_until=NOW + timedelta(days=30))
    other = verify(pki, catalog, resealed.token, status_token)
    assert codes(other)["usage_seal"] == ("INVALID", "usage_not_by_exchange")
    assert "不是由本市数据交换平台盖章" in codes_messages(other)["usage_seal"], codes_messages(other)

    header, payload, signature = copy.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["usage"]["department"] = "BDC"
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = verify(pki, catalog, f"{header}.{tampered_payload}.{signature}", status_token)
    assert tampered.status.value == "INVALID"
    # the clerk is told it is not valid, not that it could not be read "which does not say it is forged"
    from api.labels import license_outcome
    (label, _, _), _ = license_outcome(tampered)
    assert label == "无效" and "SD-JWT" not in str(codes_messages(tampered)), (label, codes_messages(tampered))


def test_revoked_license_is_invalid_in_every_form(pki: Pki, catalog: Catalog, credential: str) -> None:
    revoked = sign_status_list(StatusList.empty(LIST_URL).revoke(INDEX, "superseded"), pki.signer("SJ"),
                               now=ISSUED_AT)
    identifier = verify(pki, catalog, credential, revoked).to_dict()["content"]["identifier"]
    shown = make_presentation(credential, identifier, ["marital_status"], pki.signer("SJ"), now=NOW)
    for text in (credential, shown.text):
        verdict = verify(pki, catalog, text, revoked)
        assert verdict.status.value == "INVALID"
        assert verdict.to_dict()["revocation_reason"] == "superseded"


def test_items_are_checked_against_the_license_type(catalog: Catalog) -> None:
    marriage = catalog.licenses["MARRIAGE_CERTIFICATE"]
    wrong = {**ITEMS, "marital_status": "divorced", "registration_date": "2020-13-01", "shoe_size": 42}
    del wrong["spouse_name"]
    assert item_problems(marriage, wrong) == {
        "spouse_name": "missing", "shoe_size": "not a data item of MARRIAGE_CERTIFICATE",
        "marital_status": "must be one of married", "registration_date": "must be a date YYYY-MM-DD"}
    disability = catalog.licenses["DISABILITY_CARD"]
    until = validity_window(disability, ISSUED_AT, date(2030, 1, 31))
    assert until is not None and until.isoformat() == "2030-01-31T15:59:59+00:00"  # 23:59:59 Beijing time


def codes_messages(verdict) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c["check"]: c["message_zh"] for c in verdict.to_dict()["checks"]}


def test_a_license_verdict_speaks_of_a_license_not_a_certificate(pki: Pki, catalog: Catalog, credential: str) -> None:
    """The checks a license shares with e-certificates name it 证照 (a verifier holding a 结婚证 is
    not told that a 证明 was revoked), in both languages."""
    revoked = sign_status_list(StatusList.empty(LIST_URL).revoke(INDEX, "superseded"), pki.signer("SJ"),
                               now=ISSUED_AT)
    for token in (revoked, sign_status_list(StatusList.empty(LIST_URL), pki.signer("SJ"), now=ISSUED_AT)):
        checks = verify(pki, catalog, credential, token, id_number=SPOUSE_ID).to_dict()["checks"]
        shared = [c for c in checks if c["check"] in {"issuer", "certificate_status", "validity_window", "holder_binding"}]
        assert len(shared) == 4
        assert not [c["message_zh"] for c in checks if "证明" in c["message_zh"]]
        assert not [c["message_en"] for c in shared if "certificate" in c["message_en"]]
    messages = codes_messages(verify(pki, catalog, credential, revoked, id_number=SPOUSE_ID))
    assert messages["certificate_status"] == "证照已被出具单位撤销（原因：已换发新版本）。"
    assert messages["holder_binding"] == "所提供的公民身份号码与证照持有人不一致。"


def test_a_license_issued_with_a_digest_of_its_holders_number_is_still_checked_by_it(
        pki: Pki, catalog: Catalog, status_token: str) -> None:
    """Licenses issued by earlier versions carry `holder.id_binding`: they verify as before, and a
    number given is checked against it."""
    content = dataclasses.replace(build_license_content(
        license_type=catalog.licenses["MARRIAGE_CERTIFICATE"], department=catalog.departments["MZ"],
        holder=HOLDER.held_by(), items=ITEMS, serial=9, version=1, supersedes=None,
        status=StatusEntry(LIST_URL, INDEX), issued_at=ISSUED_AT, valid_from=ISSUED_AT, valid_until=None),
        holder_binding=HolderBinding.of(HOLDER.number))
    earlier = sign_license(content, pki.signer("MZ"))
    assert codes(verify(pki, catalog, earlier, status_token, id_number=HOLDER.number))["holder_binding"] == \
        ("VALID", "holder_matches")
    assert codes(verify(pki, catalog, earlier, status_token, id_number=SPOUSE_ID))["holder_binding"] == \
        ("INVALID", "holder_mismatch")



def test_a_license_sealed_by_a_department_that_does_not_issue_it_is_not_valid(pki: Pki, catalog: Catalog,
                                                                             status_token: str) -> None:
    """The justice bureau holds a genuine seal, but 结婚证 are civil affairs' to issue: a 结婚证 it
    seals in its own name is refused where the verifier knows who issues what."""
    content = build_license_content(
        license_type=catalog.licenses["MARRIAGE_CERTIFICATE"], department=catalog.departments["SJ"],
        holder=HOLDER.held_by(), items=ITEMS, serial=8, version=1, supersedes=None, status=StatusEntry(LIST_URL, INDEX),
        issued_at=ISSUED_AT, valid_from=ISSUED_AT, valid_until=None)
    forged = sign_license(content, pki.signer("SJ"))
    issues = PublishedDocuments.of([catalog])

    refused = verify(pki, catalog, forged, status_token, issuers=issues)
    assert refused.status.value == "INVALID" and codes(refused)["issuer"] == ("INVALID", "issuer_not_competent")
    assert "结婚证" in next(c["message_zh"] for c in refused.to_dict()["checks"] if c["check"] == "issuer")
    assert codes(verify(pki, catalog, forged, status_token))["issuer"] == ("VALID", "issuer_matches")  # offline: unknown

    # civil affairs' own 结婚证, retitled as another department's license type
    marriage = catalog.licenses["MARRIAGE_CERTIFICATE"]
    genuine = build_license_content(
        license_type=marriage, department=catalog.departments["MZ"], holder=HOLDER.held_by(), items=ITEMS, serial=9,
        version=1, supersedes=None, status=StatusEntry(LIST_URL, INDEX), issued_at=ISSUED_AT, valid_from=ISSUED_AT,
        valid_until=None)
    assert codes(verify(pki, catalog, sign_license(genuine, pki.signer("MZ")), status_token, issuers=issues)
                 )["issuer"] == ("VALID", "issuer_matches")
    other = next(kind for kind in catalog.licenses.values() if kind.department != "MZ")
    retitled = sign_license(dataclasses.replace(genuine, license_name_zh=other.name_zh), pki.signer("MZ"))
    assert codes(verify(pki, catalog, retitled, status_token, issuers=issues))["issuer"] == \
        ("INVALID", "issuer_not_competent")


def test_a_verifier_that_gave_the_nonce_accepts_only_a_presentation_made_for_it(
        pki: Pki, catalog: Catalog, credential: str, status_token: str) -> None:
    """The bank's counter shows its nonce; the holder's presentation carries it. Checked with the
    nonce it expects, the bank accepts that presentation and refuses one made for anyone else —
    without using up the other's nonce —, online and offline alike."""
    identifier = verify(pki, catalog, credential, status_token).to_dict()["content"]["identifier"]
    made = ISSUED_AT + timedelta(minutes=9)
    for_the_bank = make_presentation(credential, identifier, ["marital_status"], pki.signer("SJ"), now=made,
                                     minutes=5, nonce="bank-counter-0001")
    for_someone_else = make_presentation(credential, identifier, ["marital_status"], pki.signer("SJ"), now=made,
                                         minutes=5)
    used: set[tuple[str, str]] = set()

    def claim(license: str, nonce: str, _until: object) -> bool:
        first = (license, nonce) not in used
        used.add((license, nonce))
        return first

    refused = verify(pki, catalog, for_someone_else.text, status_token, claim_nonce=claim,
                     expected_nonce="bank-counter-0001")
    assert refused.status.value == "INVALID" and codes(refused)["nonce"] == ("INVALID", "nonce_mismatch")
    assert used == set()
    offline = verify(pki, catalog, for_someone_else.text, status_token, expected_nonce="bank-counter-0001")
    assert codes(offline)["nonce"] == ("INVALID", "nonce_mismatch")
    accepted = verify(pki, catalog, for_the_bank.text, status_token, claim_nonce=claim,
                      expected_nonce="bank-counter-0001")
    assert accepted.status.value == "VALID" and codes(accepted)["nonce"] == ("VALID", "nonce_first_use")
    assert verify(pki, catalog, for_someone_else.text, status_token, claim_nonce=claim).status.value == "VALID"


def test_the_nonce_registry_claims_once_and_forgets_what_expired(database_url: str) -> None:
    from sqlalchemy.orm import Session

    from api.database import make_engine
    from exchange.keyring import Keyring, Purpose
    from exchange.licenses.nonces import SWEEP_AFTER, claim_nonce, keep_presentation, kept_presentation, sweep_nonces

    engine = make_engine(database_url)
    box = Keyring({1: b"k" * 32}).cipher(Purpose.LICENSE_DATA)
    with Session(engine) as session:
        until = NOW + timedelta(minutes=5)
        assert claim_nonce(session, "LIC-A", "nonce-1", until, NOW)
        assert not claim_nonce(session, "LIC-A", "nonce-1", until, NOW)
        assert claim_nonce(session, "LIC-B", "nonce-1", until, NOW)  # a verifier's nonce, shown by another holder
        reference = keep_presentation(session, box, "eyJ.a.b~d~k", until)
        session.commit()
        assert kept_presentation(session, box, reference, NOW) == "eyJ.a.b~d~k"
        assert kept_presentation(session, box, reference, until + timedelta(seconds=1)) is None
        assert sweep_nonces(session, until + timedelta(seconds=1)) == 0  # a verification may still claim it
        session.commit()
        assert kept_presentation(session, box, reference, NOW) is None
        assert not claim_nonce(session, "LIC-A", "nonce-1", until, NOW)
        assert sweep_nonces(session, until + SWEEP_AFTER + timedelta(seconds=1)) == 2
        session.commit()
        assert claim_nonce(session, "LIC-A", "nonce-1", until, NOW)  # forgotten long after its presentation expired
    engine.dispose()


def test_a_household_booklet_names_each_members_relation_in_chinese(catalog: Catalog) -> None:
    """户内成员 are printed as 姓名/身份号码/与户主关系, the relation in Chinese as the certificates
    print it (户主, 配偶, 子女), on the holder's page, the verifier's and the sealed PDF alike."""
    from exchange.licenses.content import printed_items

    members = [{"name": "刘佳国", "id_number": "330703199006228351", "relation": "head"},
               {"name": "王海佳", "id_number": "330703199405028242", "relation": "spouse"},
               {"name": "刘婷", "id_number": "330703201801016083", "relation": "child"}]
    [row] = [row for row in printed_items(catalog.licenses["HUKOU_BOOKLET"], {"members": members})
             if row["name"] == "members"]
    assert row["text_zh"] == ("刘佳国/330703********8351/户主；王海佳/330703********8242/配偶；"
                              "刘婷/330703********6083/子女")


@pytest.mark.parametrize("value", ["330703199405028242", "330703 19940502 8242", "330703199405028243"])
def test_an_item_a_later_catalog_dropped_is_shown_masked(catalog: Catalog, value: str) -> None:
    """A 结婚证 issued while its type had `spouse_id_number`, verified after a publication dropped
    the item: the verdict knows nothing of the item's type, yet shows the number masked (written
    whole, in groups, or mistyped), never in full."""
    from exchange.licenses.content import printed_items

    marriage = catalog.licenses["MARRIAGE_CERTIFICATE"]
    without = dataclasses.replace(marriage, data_items=tuple(
        item for item in marriage.data_items if item.name != "spouse_id_number"))
    [row] = [row for row in printed_items(without, {"spouse_id_number": value}, mask_values=True)
             if row["name"] == "spouse_id_number"]
    assert "19940502" not in row["text_zh"] and "19940502" not in str(row["value"]), row
    assert row["text_zh"].endswith("824" + value[-1])
