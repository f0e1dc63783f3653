"""What the development identity provider's sign-in routes share (`demo.routes.dev_idp`,
`demo.routes.dev_idp_staff`, `demo.routes.dev_idp_legal_person`): the provider
itself (a 404 while it is disabled), the shape of the token it answers, and the check that a
`next` parameter is a path of this site."""

from __future__ import annotations

from urllib.parse import urlsplit

import marshmallow as ma

from api.problems import Problem
from api.runtime import runtime
from demo.identity_provider import DevIdentityProvider


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


def same_site_path(candidate: str) -> str | None:
    """`candidate` if it is a path on this site ("/portal"), else None: no scheme, no host,
    no "//" or backslash that a browser would read as another host."""
    if not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in candidate) or len(candidate) > 200:
        return None
    parts = urlsplit(candidate)
    return candidate if not parts.scheme and not parts.netloc else None
