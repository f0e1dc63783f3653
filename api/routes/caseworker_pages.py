"""The caseworker page (办件工作台, `/caseworker`): a staff member of a department signs in as
themselves through the identity provider (`api.staff_session`), files an application and watches
each proof resolve, then reads the decision with its provenance.

The page carries the labels of every catalog published (`naming_catalog`: a proof a later
publication dropped keeps its name on the applications that show it), the signed-in staff
member and the session's CSRF token, and no personal data. Its script (static/caseworker.js) calls the JSON API
(`api.routes.applications_api`) with the staff session, acting for the staff member's
department like that department's system. The identity provider hands a staff assertion over
at `POST /caseworker/session`, from its own site only; `POST /caseworker/sign-out` ends the
session. In demo mode the demo part offers the page demo households to file for
(`api.extensions.CASEWORKER_DEMO`, served by `demo.caseworker`); otherwise applications come
from the department's own system.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for

from api.extensions import CASEWORKER_DEMO, CaseworkerDemo
from api.form_tokens import form_token_valid
from api.live_catalog import live_catalog, naming_catalog
from api.runtime import runtime
from api.staff_session import (
    STAFF_COOKIE, current_staff, end_staff_session, handover_from_trusted_site, staff_csrf_token,
    start_staff_session, verify_staff,
)
from catalog.model import Catalog, Mode
from exchange.applications.decision import Decision
from exchange.applications.reading import STATUS_ZH
from exchange.identity import InvalidAssertion
from exchange.staff import ROLES

bp = Blueprint("caseworker_pages", __name__, url_prefix="/caseworker")
log = logging.getLogger(__name__)

RELATION_VOCABULARY = ("HOUSEHOLD_REGISTRATION", "relation_to_head")
"""The catalog data item whose values name a person's relation to the head of household."""


@bp.route("")
def workbench() -> Response:
    """The workbench of the signed-in staff member, or how to sign in; the matters it offers are
    the live catalog's, and the labels it names things by those of every catalog published (an
    application may show a proof a later publication dropped)."""
    staff = current_staff()
    if staff is None:
        return _signed_out(None, 200)
    catalog = live_catalog().catalog
    offered: CaseworkerDemo = current_app.extensions.get(CASEWORKER_DEMO, {})
    matters = [catalog.matters[code] for code in offered if code in catalog.matters]
    situations = {matter.code: list(offered[matter.code]) for matter in matters}
    return _no_store(make_response(render_template(
        "caseworker.html", staff=staff, role_zh=ROLES[staff.role].name_zh,
        department_zh=catalog.departments[staff.department].legal_name_zh, csrf_token=staff_csrf_token(),
        matters=matters, situations=situations, labels=_labels(naming_catalog()), demo=bool(offered))))


@bp.route("/session", methods=["POST"])
def start_session() -> Response:
    """The identity provider hands a staff assertion over (form field `assertion`) from its own
    site; a valid one starts the staff session, and a page of ours opens the workbench.

    That page, not a redirect: the hand-over arrives from another site, and a browser withholds
    the SameSite=Strict session cookie from every request of a navigation another site began,
    redirects included, so a redirect would open the workbench signed out."""
    if not handover_from_trusted_site():
        log.warning("staff sign-in hand-over refused: posted from %r, not the identity provider's site",
                    request.headers.get("Origin") or request.headers.get("Sec-Fetch-Site"))
        return _signed_out("登录请求不是来自本市统一身份认证平台，未予受理。请从统一身份认证平台重新登录。", 403)
    assertion = request.form.get("assertion", "")
    try:
        verify_staff(assertion)
    except InvalidAssertion:
        return _signed_out("登录凭证无效或已过期，请重新登录。", 400)
    workbench = url_for("caseworker_pages.workbench")
    return start_staff_session(_no_store(make_response(render_template(
        "caseworker_signed_in.html", workbench=workbench))), assertion)


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    """End the staff session (the form carries the session's CSRF token, so no other site can)."""
    response = redirect(url_for("caseworker_pages.workbench"), 303)
    if form_token_valid(STAFF_COOKIE):
        end_staff_session(response)
    return response


def _signed_out(error: str | None, status: int) -> Response:
    """How to sign in: the development provider's staff sign-in, or a link to the city's provider
    (the first web origin configured to hand sign-ins over, if any)."""
    identity = runtime().identity
    sign_in = url_for("dev_idp_staff.login", next=url_for("caseworker_pages.workbench")) if identity.dev_idp else None
    provider = None if sign_in else next(iter(identity.handover_origins), None)
    expired = error is None and bool(request.cookies.get(STAFF_COOKIE))
    return _no_store(make_response(render_template("caseworker_signed_out.html", sign_in=sign_in, provider=provider,
                                                   error=error, expired=expired), status))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _labels(catalog: Catalog) -> dict[str, Any]:
    """What the script needs to show applications in Chinese: public catalog labels only."""
    proof_code, item_name = RELATION_VOCABULARY
    relations = catalog.proofs[proof_code].item(item_name).values if proof_code in catalog.proofs else {}
    return {
        "matters": {matter.code: {"name_zh": matter.name_zh,
                                  "options": {option.name: option.name_zh for option in matter.options}}
                    for matter in catalog.matters.values()},
        "proofs": {code: {"name_zh": proof.name_zh,
                          "items": {item.name: {"name_zh": item.name_zh, "type": item.type.value,
                                                "values": dict(item.values)} for item in proof.data_items}}
                   for code, proof in catalog.proofs.items()},
        "city": {name: {"name_zh": constant.name_zh, "unit_zh": constant.unit_zh}
                 for name, constant in catalog.city.items()},
        "modes": {mode.value: mode.label_zh for mode in Mode},
        "relations": dict(relations),
        "statuses": {status.value: label for status, label in STATUS_ZH.items()},
        "decisions": {decision.value: decision.label_zh for decision in Decision},
    }
