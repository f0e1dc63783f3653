"""Citizen identity: verifying the signed identity assertions of the city's identity provider.

An identity assertion is a JWT (JWS compact, ES256 only) with the claims
`iss` (the provider), `aud` ("mianzheng", or a list containing it), `sub` (the provider's
stable pseudonymous id of the person), `id_number` (GB 11643), `name`, `iat` and `exp`.
An assertion may live at most `MAX_LIFETIME` (exp - iat ≤ 1 h); clocks may differ by
`CLOCK_SKEW`. Every other algorithm, `none` included, is refused before any claim is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey, KeySet

from catalog import bounded_json
from catalog.citizen_id import mask_id_number, parse_id_number
from catalog.errors import InvalidIdentifier
from exchange.errors import ExchangeError
from core.base64url import b64url_decode

AUDIENCE = "mianzheng"
ALGORITHM = "ES256"
MAX_LIFETIME = timedelta(hours=1)
CLOCK_SKEW = timedelta(seconds=60)
MAX_ASSERTION_CHARS = 8192
MAX_NAME_LENGTH = 100


class InvalidAssertion(ExchangeError):
    """The identity assertion is not acceptable; `reason` says why in one code:
    malformed, unsupported-algorithm, unknown-key, bad-signature, wrong-issuer,
    wrong-audience, expired, not-yet-valid, lifetime-too-long, missing-claim, bad-id-number; and
    signed-out, for a staff session ended by signing out (`api.ended_sessions`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class InvalidKeyMaterial(ExchangeError):
    """The configured identity provider key is not an EC P-256 public key (PEM or JWKS)."""


@dataclass(frozen=True)
class CitizenIdentity:
    """A verified citizen. `id_number` is validated and normalised; repr masks it."""

    id_number: str
    name: str
    subject: str
    issuer: str
    expires_at: datetime

    def __repr__(self) -> str:
        return (f"CitizenIdentity(id_number={mask_id_number(self.id_number)!r}, subject={self.subject!r}, "
                f"issuer={self.issuer!r})")


def load_public_keys(data: bytes) -> KeySet:
    """The verification keys from a PEM public key or a JWKS document (EC P-256 only)."""
    try:
        if data.lstrip().startswith(b"{"):
            keys = KeySet.import_key_set(json.loads(data))
        else:
            keys = KeySet([ECKey.import_key(data)])
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidKeyMaterial(f"not a PEM public key or a JWKS document: {error}") from None
    if not keys.keys:
        raise InvalidKeyMaterial("the key set is empty")
    for key in keys.keys:
        if not isinstance(key, ECKey) or key.curve_name != "P-256" or key.is_private:
            raise InvalidKeyMaterial("identity provider keys must be EC P-256 public keys")
        key.ensure_kid()
    return keys


def unverified_issuer(token: str) -> str | None:
    """The `iss` claim before verification, to pick the provider whose keys verify the token;
    None for a token that is too long or not a JWS with JSON objects of bounded depth."""
    try:
        claims = _bounded_parts(token)[1]
    except InvalidAssertion:
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


def _bounded_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, read within the limits (length, JSON depth) before the
    JOSE library parses them again; `InvalidAssertion("malformed")` otherwise."""
    if not token or len(token) > MAX_ASSERTION_CHARS:
        raise InvalidAssertion("malformed", "the assertion is empty or too long")
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError("not three parts")
        header, claims = (bounded_json.loads(b64url_decode(part)) for part in parts[:2])
    except ValueError:
        raise InvalidAssertion("malformed", "the assertion is not a well-formed JWS") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidAssertion("malformed", "the assertion's header and claims must be JSON objects")
    return header, claims


def verify_assertion(
    token: str,
    public_keys: KeySet,
    issuer: str,
    audience: str = AUDIENCE,
    now: datetime | None = None,
) -> CitizenIdentity:
    """Verify signature and claims of an identity assertion; `InvalidAssertion` otherwise."""
    claims, expires_at = verified_claims(token, public_keys, issuer, audience, now,
                                         required=("sub", "id_number", "name"))
    subject, name = claims["sub"], claims["name"]
    if not isinstance(subject, str) or len(subject) > 255:
        raise InvalidAssertion("malformed", "sub must be a string of at most 255 characters")
    if not isinstance(name, str) or len(name.strip()) > MAX_NAME_LENGTH:
        raise InvalidAssertion("malformed", f"name must be a string of at most {MAX_NAME_LENGTH} characters")
    try:
        citizen = parse_id_number(str(claims["id_number"]))
    except InvalidIdentifier as error:
        raise InvalidAssertion("bad-id-number", f"the assertion's ID number is invalid: {error}") from None
    return CitizenIdentity(id_number=citizen.number, name=name.strip(), subject=subject,
                           issuer=claims["iss"], expires_at=expires_at)


def verified_claims(token: str, public_keys: KeySet, issuer: str, audience: str, now: datetime | None, *,
                    required: tuple[str, ...]) -> tuple[dict[str, Any], datetime]:
    """The claims of an assertion whose signature, issuer, audience and times verify, with when it
    expires; `InvalidAssertion` otherwise, also when a `required` claim is missing."""
    _bounded_parts(token)
    try:
        claims = jwt.decode(token, public_keys, algorithms=[ALGORITHM]).claims
    except UnsupportedAlgorithmError:
        raise InvalidAssertion("unsupported-algorithm", f"only {ALGORITHM} assertions are accepted") from None
    except InvalidKeyIdError:
        raise InvalidAssertion("unknown-key", "the assertion names a key the provider does not publish") from None
    except BadSignatureError:
        raise InvalidAssertion("bad-signature", "the assertion's signature does not verify") from None
    except (JoseError, ValueError):
        raise InvalidAssertion("malformed", "the assertion is not a well-formed JWS") from None
    return claims, _checked_times(claims, issuer, audience, now or datetime.now(timezone.utc), required)


def _checked_times(claims: dict[str, Any], issuer: str, audience: str, now: datetime,
                   required: tuple[str, ...]) -> datetime:
    for name in ("iss", "aud"):
        if claims.get(name) in (None, ""):
            raise InvalidAssertion("missing-claim", f"the assertion has no {name} claim")
    if claims["iss"] != issuer:
        raise InvalidAssertion("wrong-issuer", "the assertion was issued by another provider")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidAssertion("wrong-audience", f"the assertion is not meant for {audience}")
    for name in (*required, "iat", "exp"):
        if claims.get(name) in (None, ""):
            raise InvalidAssertion("missing-claim", f"the assertion has no {name} claim")
    iat, exp = claims["iat"], claims["exp"]
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (iat, exp)):
        raise InvalidAssertion("malformed", "iat and exp must be NumericDate values")
    issued_at = datetime.fromtimestamp(iat, timezone.utc)
    expires_at = datetime.fromtimestamp(exp, timezone.utc)
    if expires_at - issued_at > MAX_LIFETIME:
        raise InvalidAssertion("lifetime-too-long", f"an assertion may live at most {MAX_LIFETIME}")
    if expires_at <= now - CLOCK_SKEW:
        raise InvalidAssertion("expired", "the assertion has expired: sign in again")
    nbf = claims.get("nbf", iat)
    if not isinstance(nbf, (int, float)) or datetime.fromtimestamp(nbf, timezone.utc) > now + CLOCK_SKEW:
        raise InvalidAssertion("not-yet-valid", "the assertion is not valid yet")
    return expires_at
