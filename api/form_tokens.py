"""Form tokens against cross-site request forgery on the citizen portal's forms.

A token is the signed (itsdangerous, HMAC) digest of the visitor's identity cookie, so it is
good only for the sign-in it was made for and for as long as that sign-in lasts. The citizen's
cookie is the default; the caseworker page passes the staff session's cookie. The key is
derived from the encryption keyring (`exchange.keyring`, a purpose of its own); a token signed
under an older key still checks while that key is in the keyring, so rotation signs no one
out. The app needs no SECRET_KEY.
The identity cookie is SameSite=Lax as well; the token is the second line of defence.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.auth import IDENTITY_COOKIE
from api.runtime import runtime
from exchange.identity import MAX_LIFETIME
from exchange.keyring import Purpose

FIELD = "csrf_token"


def form_token(cookie: str = IDENTITY_COOKIE) -> str:
    """The token to put into the forms of the current sign-in (held in `cookie`)."""
    return _serializer().dumps(_sign_in_digest(cookie))


def form_token_valid(cookie: str = IDENTITY_COOKIE, submitted: str | None = None) -> bool:
    """Whether the submitted form (or `submitted`, e.g. a header) carries the token of the
    current sign-in held in `cookie`."""
    token = request.form.get(FIELD, "") if submitted is None else submitted
    try:
        digest = _serializer().loads(token, max_age=int(MAX_LIFETIME.total_seconds()))
    except BadSignature:  # also SignatureExpired
        return False
    return isinstance(digest, str) and hmac.compare_digest(digest, _sign_in_digest(cookie))


def _sign_in_digest(cookie: str) -> str:
    return hashlib.sha256(f"{cookie}={request.cookies.get(cookie, '')}".encode()).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime().keyring.keys(Purpose.FORM_TOKENS), salt="portal-form")
