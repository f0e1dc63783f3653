"""Who is calling for an organisation: the legal-person assertion of a trusted identity provider
(`exchange.legal_person`), as a bearer token or, with the development provider, the cookie its
legal-person sign-in sets. Beside `api.auth` (citizens, department systems), never instead."""

from __future__ import annotations

from flask import g

from api.auth import trusted_provider, verified_assertion
from api.identity_config import IdentityConfig
from api.openapi import ApiSpec
from exchange.legal_person import LEGAL_PERSON_AUDIENCE, OrganisationIdentity, verify_legal_person_assertion

LEGAL_PERSON_SCHEME = "legalPersonAssertion"
LEGAL_PERSON_SECURITY = [{LEGAL_PERSON_SCHEME: []}]
LEGAL_PERSON_COOKIE = "mz_legal_person"


def document_legal_person_scheme(spec: ApiSpec) -> None:
    """Describe the legal-person bearer scheme in the OpenAPI document."""
    spec.spec.components.security_scheme(LEGAL_PERSON_SCHEME, {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": f"An organisation's legal-person assertion from the city's identity provider (ES256 JWT, "
                       f"aud {LEGAL_PERSON_AUDIENCE}, uscc, name, agent_name, at most 1 h).",
    })


def current_organisation() -> OrganisationIdentity:
    """The signed-in organisation; 401 without a valid legal-person assertion."""
    organisation: OrganisationIdentity | None = g.get("organisation")
    if organisation is None:
        organisation = g.organisation = _verified_organisation()
    return organisation


def verify_organisation_assertion(identity: IdentityConfig, token: str) -> OrganisationIdentity:
    issuer, keys = trusted_provider(identity, token)
    return verify_legal_person_assertion(token, keys, issuer)


def _verified_organisation() -> OrganisationIdentity:
    return verified_assertion(verify_organisation_assertion, LEGAL_PERSON_COOKIE, "legal-person assertion",
                              "Sign in for the organisation: send the legal-person assertion as "
                              "Authorization: Bearer <JWT>.")

