"""Security headers on every response: what a browser may load, frame and send along.

Pages load scripts, styles and images from this origin only (no inline script or style; the
caseworker page's labels ride in a `<script type="application/json">`, which is data, not
code), can be framed by nobody (`frame-ancestors 'none'`, against clickjacking), send no
referrer to other sites and are never content-sniffed. What is answered to someone who sent
credentials (a bearer token, a sign-in cookie) is theirs: it is never kept by a shared or a
browser cache (`private, no-store`, unless the route said otherwise). An installation served at
an https address asks browsers to keep to https (`Strict-Transport-Security`, a year). The interactive API documentation is
Swagger UI, which starts itself with an inline script and inline styles: only its pages get
'unsafe-inline', and they hold nothing but the public OpenAPI document.
"""

from __future__ import annotations

from flask import Flask, Response, request

from api.runtime import runtime

_COMMON = ("default-src 'self'", "img-src 'self' data:", "object-src 'none'", "base-uri 'none'",
           "form-action 'self'", "frame-ancestors 'none'")
PAGE_POLICY = "; ".join((*_COMMON, "script-src 'self'", "style-src 'self'"))
DOCS_POLICY = "; ".join((*_COMMON, "script-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline'"))
DOCS_PREFIX = "/api/v1/docs"
HSTS = "max-age=31536000"


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = DOCS_POLICY if request.path.startswith(DOCS_PREFIX) else PAGE_POLICY
    response.headers["X-Frame-Options"] = "DENY"  # for browsers older than frame-ancestors
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if "Cache-Control" not in response.headers and (request.authorization is not None or request.cookies):
        response.headers["Cache-Control"] = "private, no-store"
    if runtime().settings.over_https:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(_secure)
