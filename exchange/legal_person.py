"""Legal-person (法人) identity: an organisation, by its unified social credit code, signed in
through the identity provider by the person acting for it, to hold and show its licenses.

A legal-person assertion is a JWT like a citizen's (`exchange.identity`: ES256, the same
provider keys, issuer, lifetime and clock rules) for another audience, `mianzheng:legal-person`
— so neither kind of assertion is ever taken for the other — with the claims `sub` (the
provider's pseudonymous id of the organisation), `uscc` (GB 32100), `name` (the organisation)
and `agent_name` (who signed in for it).

`issue_dev_legal_person_assertion` is the development identity provider's: it signs for
whatever code and names are typed in, proves nothing, and is only for demos and tests.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from joserfc import jwt
from joserfc.jwk import KeySet

from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from exchange.identity import ALGORITHM, MAX_LIFETIME, MAX_NAME_LENGTH, DevIdentityProvider, InvalidAssertion, \
    verified_claims

LEGAL_PERSON_AUDIENCE = "mianzheng:legal-person"


@dataclass(frozen=True)
class OrganisationIdentity:
    """A verified organisation and who acts for it (the USCC is public: no masking needed)."""

    uscc: str
    name: str
    agent_name: str
    subject: str
    issuer: str
    expires_at: datetime


def verify_legal_person_assertion(token: str, public_keys: KeySet, issuer: str,
                                  now: datetime | None = None) -> OrganisationIdentity:
    """Verify a legal-person assertion; `InvalidAssertion` otherwise (a citizen's is wrong-audience)."""
    claims, expires_at = verified_claims(token, public_keys, issuer, LEGAL_PERSON_AUDIENCE, now,
                                         required=("sub", "uscc", "name", "agent_name"))
    names = claims["sub"], claims["name"], claims["agent_name"]
    if not all(isinstance(value, str) and len(value.strip()) <= MAX_NAME_LENGTH * 2 for value in names):
        raise InvalidAssertion("malformed", "sub, name and agent_name must be short strings")
    try:
        uscc = parse_uscc(str(claims["uscc"])).code
    except InvalidIdentifier as error:
        raise InvalidAssertion("bad-uscc", f"the assertion's credit code is invalid: {error}") from None
    return OrganisationIdentity(uscc=uscc, name=claims["name"].strip(), agent_name=claims["agent_name"].strip(),
                                subject=claims["sub"], issuer=claims["iss"], expires_at=expires_at)


def issue_dev_legal_person_assertion(provider: DevIdentityProvider, uscc: str, name: str, agent_name: str, *,
                                     now: datetime | None = None, lifetime: timedelta = MAX_LIFETIME) -> str:
    """A legal-person assertion for whatever `uscc` and names say (development only);
    `InvalidIdentifier` for a bad code, ValueError for an empty or too long name."""
    code = parse_uscc(uscc).code
    clean = [value.strip() for value in (name, agent_name)]
    if not all(0 < len(value) <= MAX_NAME_LENGTH for value in clean):
        raise ValueError(f"names must have 1 to {MAX_NAME_LENGTH} characters")
    issued_at = int((now or datetime.now(timezone.utc)).timestamp())
    secret = provider.signing_key.as_pem(private=True)
    claims = {
        "iss": provider.issuer, "aud": LEGAL_PERSON_AUDIENCE,
        "sub": "dev-org-" + hmac.new(secret, f"uscc:{code}".encode("ascii"), hashlib.sha256).hexdigest()[:32],
        "uscc": code, "name": clean[0], "agent_name": clean[1],
        "iat": issued_at, "exp": issued_at + int(lifetime.total_seconds()), "jti": uuid.uuid4().hex,
    }
    return jwt.encode({"alg": ALGORITHM, "kid": provider.signing_key.kid}, claims, provider.signing_key,
                      algorithms=[ALGORITHM])
