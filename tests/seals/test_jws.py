"""JWS signing and verification, including an independent check with jwcrypto and joserfc."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws as joserfc_jws
from joserfc.jwk import ECKey
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from seals import ca, registry
from core.base64url import b64url_decode, b64url_encode
from seals.ca import RevocationReason
from seals.ecdsa_raw import P256_ORDER, raw_signature
from seals.jws import sign_jws
from seals.keys import FileKeySigner
from seals.registry import load_ca
from seals.trust import TrustStore
from seals.verdict import Check, Status
from seals.verify_jws import verify_jws
from tests.seals.conftest import DEPARTMENT, Pki

CLAIMS = {"sub": "NO_HOUSING", "holder": "张三", "as_of": "2026-11-21"}


def split(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def sign_with_header(header: dict, claims: dict, signer: FileKeySigner) -> str:
    """A correctly signed token whose header the test chose."""
    signing_input = ".".join(b64url_encode(json.dumps(part).encode()) for part in (header, claims))
    return f"{signing_input}.{b64url_encode(raw_signature(signer.sign(signing_input.encode())))}"


def forge(header: dict, claims: dict, signature: bytes | str) -> str:
    encoded = [b64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    tail = signature if isinstance(signature, str) else b64url_encode(signature)
    return ".".join([*encoded, tail])


@pytest.fixture(scope="module")
def token(pki: Pki) -> str:
    return sign_jws(CLAIMS, pki.signer())


def test_round_trip(pki: Pki, token: str) -> None:
    result = verify_jws(token, pki.trust())
    assert result.verdict.status is Status.VALID, result.verdict.to_dict()
    assert result.claims is not None and result.claims["holder"] == "张三"
    header, claims, _ = split(token)
    assert header["alg"] == "ES256" and header["kid"] == pki.signer().key_id
    assert len(header["x5c"]) == 2
    assert isinstance(claims["iat"], int)


def test_independent_libraries_verify_with_only_the_published_root(pki: Pki, token: str) -> None:
    """The chain is checked with pyhanko-certvalidator, the signature with jwcrypto and joserfc."""
    root_pem = pki.trust().root.public_bytes(Encoding.PEM)  # all the verifier is given
    header, _, _ = split(token)
    leaf, *intermediates = (base64.b64decode(entry) for entry in header["x5c"])
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(x509.load_pem_x509_certificate(root_pem).public_bytes(Encoding.DER))]
    )
    validator = CertificateValidator(
        asn1_x509.Certificate.load(leaf),
        intermediate_certs=[asn1_x509.Certificate.load(der) for der in intermediates],
        validation_context=context,
    )
    asyncio.run(validator.async_validate_usage({"digital_signature"}))
    public_pem = (
        x509.load_der_x509_certificate(leaf)
        .public_key()
        .public_bytes(Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    checked = jwcrypto_jws.JWS()
    checked.deserialize(token)
    checked.verify(jwcrypto_jwk.JWK.from_pem(public_pem), alg="ES256")
    assert json.loads(checked.payload)["holder"] == "张三"

    registry = joserfc_jws.JWSRegistry(algorithms=["ES256"])
    registry.max_header_length = 8192  # x5c makes the header larger than joserfc's default 512
    decoded = joserfc_jws.deserialize_compact(token, ECKey.import_key(public_pem), registry=registry)
    assert json.loads(decoded.payload)["holder"] == "张三"


def test_alg_none_is_refused(pki: Pki, token: str) -> None:
    header, claims, _ = split(token)
    result = verify_jws(forge({**header, "alg": "none"}, claims, ""), pki.trust())
    assert result.verdict.status is Status.INVALID
    assert result.verdict.result(Check.INTEGRITY).code == "alg_not_allowed"


def test_hs256_keyed_with_the_public_key_is_refused(pki: Pki, token: str) -> None:
    header, claims, _ = split(token)
    header = {**header, "alg": "HS256"}
    public_pem = (
        pki.signer()
        .certificate_chain[0]
        .public_key()
        .public_bytes(Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = ".".join(b64url_encode(json.dumps(part).encode()) for part in (header, claims))
    mac = hmac.HMAC(public_pem, hashes.SHA256())
    mac.update(signing_input.encode())
    result = verify_jws(f"{signing_input}.{b64url_encode(mac.finalize())}", pki.trust())
    assert result.verdict.result(Check.INTEGRITY).code == "alg_not_allowed"


def test_tampered_payload_fails(pki: Pki, token: str) -> None:
    header, claims, signature = split(token)
    result = verify_jws(forge(header, {**claims, "holder": "李四"}, signature), pki.trust())
    assert result.verdict.status is Status.INVALID
    assert result.verdict.result(Check.INTEGRITY).code == "signature_mismatch"


def test_der_encoded_signature_is_refused(pki: Pki, token: str) -> None:
    header_part, payload_part, _ = token.split(".")
    der = pki.signer().sign(f"{header_part}.{payload_part}".encode())
    result = verify_jws(f"{header_part}.{payload_part}.{b64url_encode(der)}", pki.trust())
    assert result.verdict.result(Check.INTEGRITY).code == "signature_mismatch"


def other_root_signer(department: str = "金华市自然资源和规划局") -> FileKeySigner:
    other = ca.create_root("假冒根证书", "假冒机构")
    key = ca.generate_key()
    certificate = ca.issue_seal_certificate(
        other,
        key.public_key(),
        department_name=department,
        uscc="11330700MB1234567X",
        crl_url="http://127.0.0.1/crl.der",
        validity=timedelta(days=30),
    )
    return FileKeySigner(key, (certificate, other.certificate))


def test_certificate_from_another_root_is_untrusted(pki: Pki) -> None:
    result = verify_jws(sign_jws(CLAIMS, other_root_signer()), pki.trust())
    assert result.verdict.result(Check.INTEGRITY).status is Status.VALID
    assert result.verdict.result(Check.CHAIN).code == "untrusted_root"
    assert result.verdict.status is Status.INVALID


def test_the_header_each_verification_hands_out_is_its_own(pki: Pki, token: str) -> None:
    """A seal's header is read once per process: what one caller does with it never reaches the next."""
    first = verify_jws(token, pki.trust())
    first.header["typ"] = "changed"
    first.header["x5c"] = []
    again = verify_jws(token, pki.trust())
    assert again.header["typ"] == "JWT" and len(again.header["x5c"]) == 2
    assert again.verdict.status is Status.VALID


def test_a_seal_trusted_under_its_root_is_untrusted_under_another(pki: Pki, token: str) -> None:
    """The chain check is remembered per seal certificate and root (by identity): the same
    certificate object, judged right after against another root, is untrusted."""
    trusted = verify_jws(token, pki.trust()).verdict
    assert trusted.result(Check.CHAIN).code == "chain_valid"
    stranger = other_root_signer()
    foreign_root = TrustStore(stranger.certificate_chain[1], (stranger.certificate_chain[0],))
    verdict = verify_jws(token, foreign_root).verdict
    assert verdict.result(Check.INTEGRITY).status is Status.VALID
    assert verdict.result(Check.CHAIN).code == "untrusted_root"
    assert verify_jws(token, pki.trust()).verdict.status is Status.VALID


def test_substituted_x5c(pki: Pki, token: str) -> None:
    """x5c swapped for another certificate: the kid no longer names it, or (no kid) its key does not verify."""
    header, claims, _ = split(token)
    impostor = other_root_signer().certificate_chain[0]
    swapped = {**header, "x5c": [ca.x5c_entry(impostor)]}
    assert (
        verify_jws(sign_with_header(swapped, claims, pki.signer()), pki.trust()).verdict.result(Check.INTEGRITY).code
        == "kid_mismatch"
    )
    del swapped["kid"]
    verdict = verify_jws(sign_with_header(swapped, claims, pki.signer()), pki.trust()).verdict
    assert verdict.result(Check.INTEGRITY).code == "signature_mismatch"
    assert verdict.status is Status.INVALID


def test_genuine_x5c_with_a_foreign_key_fails(pki: Pki, token: str) -> None:
    header, claims, _ = split(token)
    verdict = verify_jws(sign_with_header(header, claims, other_root_signer()), pki.trust()).verdict
    assert verdict.result(Check.INTEGRITY).code == "signature_mismatch"


def test_kid_alone_finds_the_published_certificate(pki: Pki, token: str) -> None:
    header, claims, _ = split(token)
    del header["x5c"]
    assert verify_jws(sign_with_header(header, claims, pki.signer()), pki.trust()).verdict.status is Status.VALID
    header["kid"] = "unknown"
    unknown = verify_jws(sign_with_header(header, claims, pki.signer()), pki.trust()).verdict
    assert unknown.result(Check.INTEGRITY).code == "certificate_missing"


def test_ps256_is_accepted_and_key_type_must_match(fresh_pki: Pki) -> None:
    """An RSA seal certificate from our root, signed PS256 with jwcrypto; ES256 over it is refused."""
    city_ca = load_ca(fresh_pki.session, fresh_pki.settings)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = ca.issue_seal_certificate(
        city_ca,
        rsa_key.public_key(),
        department_name="金华市民政局",
        uscc="11330700002481234B",
        crl_url=fresh_pki.settings.crl_url,
        validity=timedelta(days=30),
    )
    key = jwcrypto_jwk.JWK.from_pem(
        rsa_key.private_bytes(Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    header = {"alg": "PS256", "x5c": [ca.x5c_entry(certificate)], "kid": ca.certificate_kid(certificate)}
    signed = jwcrypto_jws.JWS(json.dumps({"iat": int(time.time())}))
    signed.add_signature(key, protected=json.dumps(header))
    result = verify_jws(signed.serialize(compact=True), fresh_pki.trust())
    assert result.verdict.status is Status.VALID, result.verdict.to_dict()

    header_es = {**header, "alg": "ES256"}
    forged = forge(header_es, {"iat": int(time.time())}, b"\x01" * 64)
    assert verify_jws(forged, fresh_pki.trust()).verdict.result(Check.INTEGRITY).code == "key_alg_mismatch"


@pytest.mark.parametrize(
    "text",
    ["", "a.b", "a.b.c.d", "!!!.e30.AA", "e30.e30.AA==", "WzFd.e30.AA"],
    ids=["empty", "two-parts", "four-parts", "bad-alphabet", "padding", "header-not-object"],
)
def test_malformed_tokens(pki: Pki, text: str) -> None:
    verdict = verify_jws(text, pki.trust()).verdict
    assert verdict.status is Status.INVALID
    assert verdict.result(Check.INTEGRITY).code == "malformed"
    assert all(verdict.result(check).status is Status.SKIPPED for check in (Check.CHAIN, Check.VALIDITY))


@pytest.mark.parametrize("alien", ["+", "/", "=", " ", "\n", "é"])
def test_a_character_outside_base64url_in_any_part_is_malformed(pki: Pki, token: str, alien: str) -> None:
    """The standard alphabet's two letters, padding, white space or non-ASCII in the middle of the
    header, the payload or the signature: malformed, whatever the strict decoder makes of them."""
    parts = token.split(".")
    for part in range(3):
        changed = list(parts)
        changed[part] = parts[part][:8] + alien + parts[part][9:]
        verdict = verify_jws(".".join(changed), pki.trust()).verdict
        assert verdict.result(Check.INTEGRITY).code == "malformed", (part, alien)


def test_a_part_whose_last_character_carries_unused_bits_is_malformed(pki: Pki, token: str) -> None:
    """The last character of an unpadded part holds 2 or 4 bits that encode nothing; a lax decoder
    ignores them, so the same token would have other spellings. A token has one encoding."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    parts = token.split(".")
    signature = parts[2]
    assert len(signature) % 4 in (2, 3)
    twin = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
    assert twin != signature
    verdict = verify_jws(".".join([parts[0], parts[1], twin]), pki.trust()).verdict
    assert verdict.result(Check.INTEGRITY).code == "malformed"


def test_duplicate_header_members_and_crit_are_refused(pki: Pki, token: str) -> None:
    header_part, payload_part, signature = token.split(".")
    header_json = b64url_decode(header_part).decode()
    duplicated = b64url_encode(header_json.replace('{"alg":"ES256"', '{"alg":"ES256","alg":"ES256"').encode())
    assert (
        verify_jws(f"{duplicated}.{payload_part}.{signature}", pki.trust()).verdict.result(Check.INTEGRITY).code
        == "malformed"
    )
    header, claims, signature = split(token)
    crit = forge({**header, "crit": ["exp"]}, claims, signature)
    assert verify_jws(crit, pki.trust()).verdict.result(Check.INTEGRITY).code == "malformed"


def test_signing_time_checks(pki: Pki) -> None:
    signer = pki.signer()
    future = verify_jws(sign_jws({"iat": int(time.time()) + 3600}, signer), pki.trust()).verdict
    assert future.result(Check.VALIDITY).code == "signing_time_in_future"
    before = int(signer.certificate_chain[0].not_valid_before_utc.timestamp()) - 3600
    early = verify_jws(sign_jws({"iat": before}, signer), pki.trust()).verdict
    assert early.result(Check.VALIDITY).code == "outside_validity"
    assert early.status is Status.INVALID
    no_iat = verify_jws(sign_jws({"iat": "yesterday"}, signer), pki.trust()).verdict
    assert no_iat.result(Check.VALIDITY).code == "signing_time_missing"
    assert no_iat.signing_time_source == "verification_time"
    assert no_iat.status is Status.VALID


def high_s_twin(token: str) -> str:
    """The same token with the other valid ECDSA signature (r, n − s) of the same input."""
    signing_input, _, signature = token.rpartition(".")
    raw = b64url_decode(signature)
    s = int.from_bytes(raw[32:], "big")
    return f"{signing_input}.{b64url_encode(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"


def test_only_the_low_s_signature_verifies(pki: Pki) -> None:
    """Every token signed has s ≤ n/2; its high-S twin, which plain ECDSA accepts, is refused."""
    for number in range(8):  # half of all raw ECDSA signatures are high-S
        token = sign_jws({**CLAIMS, "n": number}, pki.signer())
        assert int.from_bytes(b64url_decode(token.rpartition(".")[2])[32:], "big") <= P256_ORDER // 2
        assert verify_jws(token, pki.trust()).verdict.status is Status.VALID
        twin = verify_jws(high_s_twin(token), pki.trust())
        assert twin.verdict.status is Status.INVALID
        assert twin.verdict.result(Check.INTEGRITY).code == "signature_mismatch"


@pytest.mark.parametrize("part", [0, 1])
def test_deeply_nested_header_or_payload_is_malformed(pki: Pki, token: str, part: int) -> None:
    nested = b64url_encode(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}")
    parts = token.split(".")
    parts[part] = nested
    result = verify_jws(".".join(parts), pki.trust())
    assert result.verdict.status is Status.INVALID
    assert result.verdict.result(Check.INTEGRITY).code == "malformed"


def test_a_seal_found_good_is_revoked_by_the_next_crl_at_once(fresh_pki: Pki) -> None:
    """A seal's entry in the CRL is looked up once per CRL and certificate (by identity): the same
    token, verified good, is refused on the very next verification against the CRL that revokes it."""
    token = sign_jws({"iat": int(time.time()) + 60}, fresh_pki.signer())
    assert verify_jws(token, fresh_pki.trust()).verdict.result(Check.SEAL_STATUS).code == "seal_good"
    registry.revoke_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT, RevocationReason.CESSATION_OF_OPERATION)
    verdict = verify_jws(token, fresh_pki.trust()).verdict
    assert verdict.result(Check.SEAL_STATUS).code == "seal_revoked"
    assert verdict.status is Status.INVALID


def test_a_remembered_verdict_holds_only_while_its_checks_would_give_it(fresh_pki: Pki) -> None:
    """A token verified again and again (a status list) keeps its VALID verdict for the same
    trust store only while the clock-reading checks would give it again: past the CRL's next
    update it is stale, before CLOCK_SKEW ahead of its signing time it is in the future, and a
    trust store with a new CRL that revokes the seal judges it at once."""
    token = sign_jws({**CLAIMS, "iat": int(time.time())}, fresh_pki.signer())
    trust = fresh_pki.trust()
    assert trust.crl is not None
    signed_at = ca.utc_now().replace(microsecond=0)
    assert verify_jws(token, trust, remember=True).verdict.status is Status.VALID
    assert verify_jws(token, trust, remember=True).verdict.status is Status.VALID  # from memory
    stale = verify_jws(token, trust, now=trust.crl.next_update_utc + timedelta(seconds=1), remember=True).verdict
    assert stale.result(Check.SEAL_STATUS).code == "crl_stale"
    early = verify_jws(token, trust, now=signed_at - timedelta(minutes=6), remember=True).verdict
    assert early.result(Check.VALIDITY).code == "signing_time_in_future"
    assert verify_jws(token, trust, now=trust.crl.next_update_utc, remember=True).verdict.status is Status.VALID
    registry.revoke_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT, RevocationReason.KEY_COMPROMISE)
    revoked = verify_jws(token, fresh_pki.trust(), remember=True).verdict
    assert revoked.result(Check.SEAL_STATUS).status is Status.INVALID
    assert verify_jws(token, trust, remember=True).verdict.status is Status.VALID  # the old store still says so


def test_what_was_signed_in_the_second_a_seal_is_revoked_stays_valid(fresh_pki: Pki) -> None:
    """Signing times are whole seconds. A token signed and stored before the revocation, in the
    same second, was made by a seal not yet revoked: a bank must not read it as a forgery. What
    is signed from the revocation time on is revoked."""
    start = ca.utc_now()
    while ca.utc_now() == start:  # at the start of a second, so signing and revoking share it
        time.sleep(0.002)
    signer = fresh_pki.signer()
    token = sign_jws({**CLAIMS, "iat": int(time.time())}, signer)
    seal = registry.revoke_seal(fresh_pki.session, fresh_pki.settings, DEPARTMENT,
                                RevocationReason.CESSATION_OF_OPERATION)
    verdict = verify_jws(token, fresh_pki.trust()).verdict
    assert verdict.status is Status.VALID, verdict.result(Check.SEAL_STATUS).code
    at_revocation = sign_jws({**CLAIMS, "iat": int(seal.revoked_at.timestamp())}, signer)
    assert verify_jws(at_revocation, fresh_pki.trust()).verdict.result(Check.SEAL_STATUS).code == "seal_revoked"
