"""Staff sessions: a department's staff member signed in as themselves on the caseworker page.

The session is the identity provider's staff assertion (`exchange.staff`) kept in the
`STAFF_COOKIE` (HttpOnly, SameSite=Strict, Secure behind https), set when the provider hands
the assertion over (`POST /caseworker/session`, or the development provider's staff sign-in)
and deleted on sign-out. A hand-over is taken only from the provider's site or the service's
own (`handover_from_trusted_site`): another site cannot sign a staff member's browser in as
someone else (login CSRF). It lives as long as the assertion (at most an hour), unless signed
out: signing out also records the assertion as ended (`api.ended_sessions`), so a copy of the cookie
acts for nobody afterwards, and the same assertion cannot be handed over again.

A request that carries no `Authorization` header but a valid staff session acts as the staff
member's department with the scopes of their role: `load_staff_session` (run before every
request) puts the staff member, seen as a client of their department, where
`api.auth.require_client` looks first. So the caseworker page calls the same JSON API as a
department system, a staff member can only ever act for their own department, and a department
system's client token keeps working for machine clients. A request that changes anything must
also carry the session's CSRF token in `X-CSRF-Token` (or the form field); without it the
session is ignored and the request is unauthenticated. Whatever the request body says, the
caseworker it names is the signed-in staff member (`acting_caseworker_id`), so every pull it
causes names them in the access log and in the citizen's data-use log.
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from api.auth import SIGN_IN_COOKIE_MAX_AGE
from api.form_tokens import FIELD, form_token, form_token_valid
from api.identity_config import web_origin
from api.live_catalog import live_catalog
from api.ended_sessions import end_session, session_ended
from api.runtime import db, plain_db, runtime
from exchange.identity import InvalidAssertion, unverified_issuer
from exchange.staff import StaffIdentity, verify_staff_assertion

STAFF_COOKIE = "mz_staff"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def verify_staff(token: str) -> StaffIdentity:
    """The staff member a trusted provider's assertion names, of a department of the live
    catalog; `InvalidAssertion` otherwise."""
    issuer = unverified_issuer(token)
    keys = runtime().identity.trusted.get(issuer) if issuer else None
    if keys is None or issuer is None:
        raise InvalidAssertion("untrusted-issuer", "the assertion comes from no trusted identity provider")
    staff = verify_staff_assertion(token, keys, issuer)
    if staff.department not in live_catalog().catalog.departments:
        raise InvalidAssertion("unknown-department", "the assertion names no department of the catalog")
    if session_ended(plain_db(), token):
        raise InvalidAssertion("signed-out", "the session of this assertion was ended by signing out")
    return staff


def handover_from_trusted_site() -> bool:
    """Whether a hand-over comes from a page of the identity provider or of the service itself.

    Browsers name the posting page's origin in `Origin`, or send `null` where the page's
    referrer policy hides it (`no-referrer`, or `same-origin` across origins), and say in
    `Sec-Fetch-Site` whether the page is of the same origin; neither header can be set by a
    page. A request with neither comes from no browser's page, so no other site can have sent it."""
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if origin is None or origin == "null":
        return fetch_site == "same-origin" or (origin is None and fetch_site is None)
    own = {web_origin(request.host_url), web_origin(runtime().settings.public_url)}
    return origin.lower() in own or origin.lower() in runtime().identity.handover_origins


def current_staff() -> StaffIdentity | None:
    """The staff member signed in on this request, if any (after `load_staff_session`)."""
    staff: StaffIdentity | None = g.get("staff")
    return staff


def acting_caseworker_id(given: str) -> str:
    """The caseworker a request acts as: the signed-in staff member, else what the client says."""
    staff = current_staff()
    return staff.caseworker_id if staff is not None else given


def staff_csrf_token() -> str:
    """The CSRF token of the current staff session, for the page's forms and script."""
    return form_token(STAFF_COOKIE)


def start_staff_session(response: Response, assertion: str) -> Response:
    """Keep a verified staff assertion as the session cookie."""
    response.set_cookie(STAFF_COOKIE, assertion, max_age=SIGN_IN_COOKIE_MAX_AGE, httponly=True,
                        samesite="Strict", secure=runtime().settings.over_https)
    return response


def end_staff_session(response: Response) -> Response:
    """Sign out: the session's assertion is recorded as ended (committed), and the cookie deleted."""
    token = request.cookies.get(STAFF_COOKIE)
    try:
        staff = verify_staff(token) if token else None
    except InvalidAssertion:  # expired or ended already: nothing left to end
        staff = None
    if staff is not None and token is not None:
        end_session(db(), token, staff.expires_at)
        db().commit()
    response.delete_cookie(STAFF_COOKIE, samesite="Strict",
                           secure=runtime().settings.over_https)
    return response


def load_staff_session() -> None:
    """Before each request: the staff member of a valid session, as their department's client,
    unless the request authenticates otherwise or changes something without the CSRF token."""
    token = request.cookies.get(STAFF_COOKIE)
    if not token or request.headers.get("Authorization"):
        return
    if request.method not in SAFE_METHODS and not _csrf_token_sent():
        return
    try:
        staff = verify_staff(token)
    except InvalidAssertion:
        return
    g.staff = staff
    g.client = staff.as_client()


def _csrf_token_sent() -> bool:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return form_token_valid(STAFF_COOKIE, header)
    return form_token_valid(STAFF_COOKIE) if request.form.get(FIELD) else False


def register_staff_sessions(app: Flask) -> None:
    app.before_request(load_staff_session)
