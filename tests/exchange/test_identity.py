"""Identity assertions: a valid one yields the citizen; expired, foreign, tampered, unsigned
and otherwise bad ones are refused with a reason. Real ES256 keys throughout."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from catalog.errors import InvalidIdentifier
from demo.identity_provider import DEV_ISSUER, DevIdentityProvider
from exchange.identity import (
    InvalidAssertion,
    InvalidKeyMaterial,
    load_public_keys,
    unverified_issuer,
    verify_assertion,
)
from core.base64url import b64url_encode

ID_NUMBER = "11010519491231002X"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> DevIdentityProvider:
    return DevIdentityProvider.open(tmp_path_factory.mktemp("var") / "dev-idp")


def _claims(**change: Any) -> dict[str, Any]:
    issued = int(NOW.timestamp())
    claims = {"iss": DEV_ISSUER, "aud": "mianzheng", "sub": "dev-1", "id_number": ID_NUMBER, "name": "张三",
              "iat": issued, "exp": issued + 600}
    return {k: v for k, v in (claims | change).items() if v is not None}


def _signed(idp: DevIdentityProvider, **change: Any) -> str:
    return jwt.encode({"alg": "ES256", "kid": idp.signing_key.kid}, _claims(**change), idp.signing_key)


def _refused(idp: DevIdentityProvider, token: str, reason: str) -> None:
    with pytest.raises(InvalidAssertion) as refused:
        verify_assertion(token, idp.public_keys, DEV_ISSUER, now=NOW)
    assert refused.value.reason == reason


def test_a_valid_assertion_yields_the_citizen(idp: DevIdentityProvider) -> None:
    token = idp.issue_dev_assertion(ID_NUMBER.lower(), " 张三 ", now=NOW)
    assert unverified_issuer(token) == DEV_ISSUER
    citizen = verify_assertion(token, idp.public_keys, DEV_ISSUER, now=NOW + timedelta(minutes=59))
    assert (citizen.id_number, citizen.name, citizen.issuer) == (ID_NUMBER, "张三", DEV_ISSUER)
    assert citizen.subject.startswith("dev-") and ID_NUMBER not in citizen.subject
    assert ID_NUMBER not in repr(citizen)
    assert verify_assertion(idp.issue_dev_assertion(ID_NUMBER, "张三", now=NOW), idp.public_keys, DEV_ISSUER,
                            now=NOW).subject == citizen.subject


def test_expired_and_future_assertions(idp: DevIdentityProvider) -> None:
    _refused(idp, idp.issue_dev_assertion(ID_NUMBER, "张三", now=NOW - timedelta(hours=2)), "expired")
    _refused(idp, _signed(idp, iat=int(NOW.timestamp()) + 600, exp=int(NOW.timestamp()) + 1200), "not-yet-valid")
    _refused(idp, _signed(idp, exp=int(NOW.timestamp()) + 7200), "lifetime-too-long")


def test_wrong_audience_issuer_and_missing_claims(idp: DevIdentityProvider) -> None:
    _refused(idp, _signed(idp, aud="another-service"), "wrong-audience")
    assert verify_assertion(_signed(idp, aud=["portal", "mianzheng"]), idp.public_keys, DEV_ISSUER, now=NOW)
    _refused(idp, _signed(idp, iss="https://idp.example.org"), "wrong-issuer")
    _refused(idp, _signed(idp, id_number=None), "missing-claim")
    _refused(idp, _signed(idp, id_number="110105194912310021"), "bad-id-number")


def test_tampered_unsigned_and_foreign_assertions(idp: DevIdentityProvider) -> None:
    header, payload, signature = idp.issue_dev_assertion(ID_NUMBER, "张三", now=NOW).split(".")
    claims = _claims(id_number="440524198001010013")
    forged = b64url_encode(json.dumps(claims).encode())
    _refused(idp, f"{header}.{forged}.{signature}", "bad-signature")
    none_header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    _refused(idp, f"{none_header}.{payload}.", "unsupported-algorithm")
    hs_header = b64url_encode(json.dumps({"alg": "HS256"}).encode())
    _refused(idp, f"{hs_header}.{payload}.{signature}", "unsupported-algorithm")
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    _refused(idp, jwt.encode({"alg": "ES256", "kid": stranger.kid}, _claims(), stranger), "unknown-key")
    _refused(idp, jwt.encode({"alg": "ES256"}, _claims(), stranger), "bad-signature")
    for garbage in ("", "not.a.jwt", "x" * 10_000):
        _refused(idp, garbage, "malformed")


def test_provider_keys_load_from_pem_or_jwks(idp: DevIdentityProvider) -> None:
    token = idp.issue_dev_assertion(ID_NUMBER, "张三", now=NOW)
    pem = idp.signing_key.as_pem(private=False)
    jwks = json.dumps(idp.public_keys.as_dict()).encode()
    for material in (pem, jwks):
        assert verify_assertion(token, load_public_keys(material), DEV_ISSUER, now=NOW).name == "张三"
    for bad in (b"not a key", idp.signing_key.as_pem(private=True), b'{"keys": []}'):
        with pytest.raises(InvalidKeyMaterial):
            load_public_keys(bad)


def test_the_dev_key_is_private_and_stable(tmp_path: Path) -> None:
    first = DevIdentityProvider.open(tmp_path / "dev-idp")
    assert (os.stat(tmp_path / "dev-idp" / "signing-key.pem").st_mode & 0o777) == 0o600
    assert DevIdentityProvider.open(tmp_path / "dev-idp").signing_key.kid == first.signing_key.kid
    with pytest.raises(InvalidIdentifier):
        first.issue_dev_assertion("123", "张三")
