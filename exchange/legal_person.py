"""Legal-person (法人) identity: an organisation, by its unified social credit code, signed in
through the identity provider by the person acting for it, to hold and show its licenses.

A legal-person assertion is a JWT like a citizen's (`exchange.identity`: ES256, the same
provider keys, issuer, lifetime and clock rules) for another audience, `mianzheng:legal-person`
— so neither kind of assertion is ever taken for the other — with the claims `sub` (the
provider's pseudonymous id of the organisation), `uscc` (GB 32100), `name` (the organisation)
and `agent_name` (who signed in for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from joserfc.jwk import KeySet

from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from exchange.identity import MAX_NAME_LENGTH, InvalidAssertion, verified_claims

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
