"""What the development identity provider's sign-in routes share (`demo.routes.dev_idp`,
`demo.routes.dev_idp_staff`, `demo.routes.dev_idp_legal_person`): the provider
itself (a 404 while it is disabled), the shape of the token it answers and how it answers, and the check that a
`next` parameter is a path of this site."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma

from api.problems import Problem
from api.runtime import runtime
from catalog.errors import InvalidIdentifier
from demo.identity_provider import DevIdentityProvider
from exchange.identity import MAX_LIFETIME


class DevTokenSchema(ma.Schema):
    assertion = ma.fields.String(metadata={"description": "Send as Authorization: Bearer <assertion>"})
    token_type = ma.fields.String(metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(metadata={"description": "Seconds"})
    issuer = ma.fields.String()


def dev_provider() -> DevIdentityProvider:
    provider = runtime().identity.dev_idp
    if not isinstance(provider, DevIdentityProvider):
        raise Problem("not-found", "The development identity provider is not enabled.")
    return provider


def token_answer(identifier_field: str, issue: Callable[[DevIdentityProvider], str]) -> dict[str, Any]:
    """The provider's answer to a token request: the assertion `issue` makes, or a problem naming
    the field at fault (`identifier_field` for a bad ID number or credit code, else `name`)."""
    provider = dev_provider()
    try:
        assertion = issue(provider)
    except InvalidIdentifier as invalid:
        raise Problem("invalid-request", f"{identifier_field}: {invalid}",
                      errors=[{"pointer": f"#/{identifier_field}", "detail": str(invalid)}]) from None
    except ValueError as invalid:
        raise Problem("invalid-request", f"name: {invalid}",
                      errors=[{"pointer": "#/name", "detail": str(invalid)}]) from None
    return {"assertion": assertion, "token_type": "Bearer", "expires_in": int(MAX_LIFETIME.total_seconds()),
            "issuer": provider.issuer}


MAX_NEXT_CHARS = 2000
"""The longest path a sign-in returns to (a consent link names its matter, department, proofs and days)."""

ANOTHER_SITE_ZH = "请在本站的登录页面上登录：其他网站的页面不能替您登录。"


def same_site_path(candidate: str) -> str | None:
    """`candidate` if it is a path on this site ("/portal"), else None: no scheme, no host,
    no "//" or backslash that a browser would read as another host."""
    if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in candidate) or len(candidate) > MAX_NEXT_CHARS:
        return None
    parts = urlsplit(candidate)
    return candidate if not parts.scheme and not parts.netloc else None
