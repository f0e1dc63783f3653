"""What every citizen page shares: who is signed in (the identity cookie, `api.auth`), the page a
signed-out visitor gets instead, and the response of a signed-in page (never cached, with the
form token of the sign-in and the masked ID number)."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request, url_for

from api.auth import IDENTITY_COOKIE, current_citizen
from api.form_tokens import form_token
from api.problems import Problem
from api.runtime import runtime
from catalog.citizen_id import mask_id_number
from exchange.identity import CitizenIdentity


def citizen_page(template: str, citizen: CitizenIdentity, **context: Any) -> Response:
    response = make_response(render_template(template, citizen=citizen, masked_id=mask_id_number(citizen.id_number),
                                             csrf_token=form_token(), **context))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def signed_in_citizen() -> CitizenIdentity | None:
    try:
        return current_citizen()
    except Problem:
        return None


def signed_out_page() -> Response:
    """How to sign in, coming back to the page asked for (a department's consent link keeps its
    request through the sign-in; a form posted after the sign-in expired comes back to the page
    it was posted from, `_page_of_form`); 401 for the pages that need it."""
    dev_idp = runtime().identity.dev_idp is not None
    back_to = request.full_path.removesuffix("?") if request.method == "GET" else _page_of_form()
    sign_in = url_for("dev_idp_page.login", next=back_to) if dev_idp else None
    expired = dev_idp and bool(request.cookies.get(IDENTITY_COOKIE))
    status = 200 if request.endpoint == "portal_pages.home" and request.method == "GET" else 401
    return make_response(render_template("portal_signed_out.html", sign_in=sign_in, expired=expired), status)


def _page_of_form() -> str:
    """Where a form posted while signed out comes back to after the sign-in, with what it asked
    that is no personal data: an agreement to a consent, to its preview with the same terms
    (the department's link); the issuing form, with the proof chosen (not the purpose typed,
    which may say anything about the citizen and would pass through the identity provider)."""
    form = request.form
    if request.endpoint == "portal_pages.decide_consent" and form.get("decision") == "release":
        return url_for("portal_pages.consent_preview", matter=form.get("matter", ""),
                       department=form.get("department", ""), proof=form.getlist("proof"), days=form.get("days", ""))
    if request.endpoint == "portal_pages.request_certificate" and (proof := form.get("proof", "").strip()[:64]):
        return url_for("portal_pages.home", proof=proof)
    return url_for("portal_pages.home")
