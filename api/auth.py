"""Who is calling: department systems by client token, citizens by identity assertion.

`require_client(scope)` and `current_citizen()` are called at the top of a view. Both read
`Authorization: Bearer ...` (RFC 6750); a citizen may instead carry the development identity
provider's cookie while that provider is enabled; a staff member signed in on the caseworker
page is found by `require_client` as a client of their department (`api.staff_session`).
Failures are problems: 401 unauthenticated
with a `WWW-Authenticate` challenge, or 403 forbidden-by-policy when a client lacks the scope.
Nothing about a token, secret or ID number is ever put into a problem's detail.

A view that takes a body or query arguments is decorated with `client_first(scope)` or
`citizen_first` between `@blp.route` and `@blp.arguments`, so the caller is authenticated
before its input is parsed: an unauthenticated caller gets 401, not a 400 describing the
fields. Both results are kept for the request, so the view's own call costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from flask import g, request
from joserfc.jwk import KeySet

from api.ended_sessions import session_ended
from api.identity_config import IdentityConfig
from api.openapi import ApiSpec, View, before_parsing
from api.problems import INVALID_TOKEN_CHALLENGE, REALM, Problem
from api.runtime import plain_db, runtime
from exchange.clients import AuthenticatedClient, InvalidCredentials, authenticate
from exchange.identity import MAX_LIFETIME, CitizenIdentity, InvalidAssertion, unverified_issuer, verify_assertion
from exchange.subjects import subject_key

Identity = TypeVar("Identity")

CLIENT_SCHEME = "clientToken"
CITIZEN_SCHEME = "citizenAssertion"
CLIENT_SECURITY = [{CLIENT_SCHEME: []}]
CITIZEN_SECURITY = [{CITIZEN_SCHEME: []}]
IDENTITY_COOKIE = "mz_identity"
SIGN_IN_COOKIE_MAX_AGE = int((MAX_LIFETIME + timedelta(days=1)).total_seconds())
"""How long a browser keeps a sign-in cookie (citizen or staff): a day longer than the assertion it
holds, so that after the sign-in ended the browser still sends it and the page can say so
(您的登录已过期) rather than show the plain sign-in page; an expired assertion grants nothing."""


def document_security_schemes(spec: ApiSpec) -> None:
    """Describe both bearer schemes in the OpenAPI document."""
    spec.spec.components.security_scheme(CLIENT_SCHEME, {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "mzc_<client id>_<secret>",
        "description": "A department system's client token (`mianzheng client add`); shown once, scoped.",
    })
    spec.spec.components.security_scheme(CITIZEN_SCHEME, {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A citizen's identity assertion from the city's identity provider (ES256 JWT, "
                       "aud \"mianzheng\", at most 1 h).",
    })


def client_first(scope: str) -> Callable[[View], View]:
    """Decorate a view so that `require_client(scope)` runs before its arguments are parsed."""
    return before_parsing(lambda: require_client(scope))


citizen_first = before_parsing(lambda: current_citizen())
"""Decorate a view so that `current_citizen()` runs before its arguments are parsed."""


def require_client(scope: str) -> AuthenticatedClient:
    """The calling department system; 401 without valid credentials, 403 without `scope`."""
    client: AuthenticatedClient | None = g.get("client")
    if client is None:
        client = _authenticated_client()
    if not client.has_scope(scope):
        raise Problem(
            "forbidden-by-policy",
            f"Client {client.client_id} lacks the scope {scope}.",
            headers={"WWW-Authenticate": f'Bearer {REALM}, error="insufficient_scope", scope="{scope}"'},
        )
    return client


def _authenticated_client() -> AuthenticatedClient:
    token = _bearer_token()
    if token is None:
        raise _unauthenticated("Send a client token: Authorization: Bearer mzc_...", invalid=False)
    try:
        client = authenticate(plain_db(), token)
    except InvalidCredentials:
        raise _unauthenticated("The client token is unknown, revoked or replaced.", invalid=True) from None
    g.client = client
    return client


def current_citizen() -> CitizenIdentity:
    """The signed-in citizen; 401 without a valid identity assertion."""
    citizen: CitizenIdentity | None = g.get("citizen")
    if citizen is None:
        citizen = g.citizen = _verified_citizen()
    return citizen


def _verified_citizen() -> CitizenIdentity:
    return verified_assertion(verify_citizen_assertion, IDENTITY_COOKIE, "identity assertion",
                              "Sign in: send the identity provider's assertion as Authorization: Bearer <JWT>.")


def verified_assertion(verify: Callable[[IdentityConfig, str], Identity], cookie: str, name: str,
                       how_to_sign_in: str) -> Identity:
    """Who the caller's assertion names: the bearer token or, while the development identity
    provider is enabled, the `cookie` its sign-in set (not for a change another site's page asks
    for: `_cookie_may_act`), checked by `verify`; 401 without one (`how_to_sign_in` is the
    detail) or when `verify` does not accept it (the `name`d assertion)."""
    identity = runtime().identity
    token = _bearer_token()
    if token is None and identity.dev_idp is not None and _cookie_may_act():
        token = request.cookies.get(cookie)
    if token is None:
        raise _unauthenticated(how_to_sign_in, invalid=False)
    try:
        verified = verify(identity, token)
    except InvalidAssertion as refused:
        raise _unauthenticated(f"The {name} is not accepted ({refused.reason}): {refused}", invalid=True) from None
    if session_ended(plain_db(), token):  # signed out: a copy of the cookie acts for nobody
        raise _unauthenticated(f"The {name} belongs to a session that was signed out: sign in again.", invalid=True)
    return verified


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _cookie_may_act() -> bool:
    """Whether a sign-in cookie speaks for this request: always to read; for a change, unless it
    came `from_another_site`. The pages' forms carry a token of their own as well; the API's
    JSON endpoints have only this."""
    return request.method in _SAFE_METHODS or not from_another_site()


def from_another_site() -> bool:
    """Whether the browser says another site's page sent this request (`Sec-Fetch-Site`;
    programs send none)."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")


def verify_citizen_assertion(identity: IdentityConfig, token: str) -> CitizenIdentity:
    """The citizen an assertion of a trusted identity provider names; `InvalidAssertion` otherwise."""
    issuer, keys = trusted_provider(identity, token)
    return verify_assertion(token, keys, issuer)


def trusted_provider(identity: IdentityConfig, token: str) -> tuple[str, KeySet]:
    """The issuer an assertion names and its keys, when it is a trusted provider; `InvalidAssertion` otherwise."""
    issuer = unverified_issuer(token)
    keys = identity.trusted.get(issuer) if issuer else None
    if keys is None or issuer is None:
        raise InvalidAssertion("untrusted-issuer", "the assertion comes from no trusted identity provider")
    return issuer, keys


def citizen_subject_key(citizen: CitizenIdentity) -> str:
    """The citizen's subject key, under which consents and access-log entries are kept."""
    return subject_key(runtime().subject_hash_key, citizen.id_number)


def _bearer_token() -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _unauthenticated(detail: str, *, invalid: bool) -> Problem:
    challenge = INVALID_TOKEN_CHALLENGE if invalid else f"Bearer {REALM}"
    return Problem("unauthenticated", detail, headers={"WWW-Authenticate": challenge})
