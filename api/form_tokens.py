"""Form tokens against cross-site request forgery on the citizen portal's forms.

A token is the signed (itsdangerous, HMAC) digest of the visitor's identity cookie, so it is
good only for the sign-in it was made for and for as long as that sign-in lasts. The key is
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


def form_token() -> str:
    """The token to put into the forms of the current sign-in."""
    return _serializer().dumps(_sign_in_digest())


def form_token_valid() -> bool:
    """Whether the submitted form carries the token of the current sign-in."""
    try:
        digest = _serializer().loads(request.form.get(FIELD, ""), max_age=int(MAX_LIFETIME.total_seconds()))
    except BadSignature:  # also SignatureExpired
        return False
    return isinstance(digest, str) and hmac.compare_digest(digest, _sign_in_digest())


def _sign_in_digest() -> str:
    return hashlib.sha256(request.cookies.get(IDENTITY_COOKIE, "").encode()).hexdigest()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime().keyring.keys(Purpose.FORM_TOKENS), salt="portal-form")
