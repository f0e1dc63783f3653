"""The caseworker page (办件工作台, `/caseworker`): a staff member of a department signs in as
themselves through the identity provider (`api.staff_session`), files an application for a demo
household and watches each proof resolve, then reads the decision with its provenance.

The page carries the catalog's labels, the signed-in staff member and the session's CSRF
token, and no personal data. Its script (static/caseworker.js) calls the JSON API
(`api.routes.applications_api`) with the staff session, acting for the staff member's
department like that department's system. The identity provider hands a staff assertion over
at `POST /caseworker/session`; `POST /caseworker/sign-out` ends the session. One small JSON
endpoint serves the script (scope applications:write, a staff session or a client token): only
while the installation has demo source data, demo households already shaped as application
requests (`/caseworker/demo-households`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from uuid import uuid4

from flask import Blueprint, Response, jsonify, make_response, redirect, render_template, request, url_for

from api.auth import require_client
from api.form_tokens import form_token_valid
from api.live_catalog import live_catalog
from api.problems import Problem
from api.runtime import runtime
from api.staff_session import (
    STAFF_COOKIE, acting_caseworker_id, current_staff, end_staff_session, staff_csrf_token, start_staff_session,
    verify_staff,
)
from catalog.citizen_id import mask_id_number
from catalog.model import Catalog, Mode
from exchange.applications.decision import Decision
from exchange.applications.demo_applications import PUBLIC_RENTAL_HOUSING, public_housing_request
from exchange.applications.reading import STATUS_ZH
from exchange.clients import ClientScope
from exchange.identity import InvalidAssertion
from exchange.staff import ROLES
from exchange.sources.demo_data import (
    HOUSEHOLD_SITUATIONS, DemoDataMissing, DemoHousehold, demo_households,
)

bp = Blueprint("caseworker_pages", __name__, url_prefix="/caseworker")

HOUSEHOLDS_LISTED = 6
MAX_INCOME_CHANGE = Decimal(100_000)
RELATION_VOCABULARY = ("HOUSEHOLD_REGISTRATION", "relation_to_head")
"""The catalog data item whose values name a person's relation to the head of household."""


class RequestBuilder(Protocol):
    """The application request of a demo household, its declared per-capita income shaded by the change."""

    def __call__(self, household: DemoHousehold, request_id: str, *, signed_at: datetime,
                 declared_income_change: Decimal, caseworker_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class DemoMatter:
    """A matter the page files for demo households: the situations offered and how a request is built."""

    situations: tuple[str, ...]
    build: RequestBuilder


DEMO_MATTERS: Mapping[str, DemoMatter] = {
    PUBLIC_RENTAL_HOUSING: DemoMatter(tuple(HOUSEHOLD_SITUATIONS), public_housing_request),
}
"""The matters offered on the page, the flagship first; add a matter with its request builder."""


@bp.route("")
def workbench() -> Response:
    """The workbench of the signed-in staff member, or how to sign in; labelled from the live catalog."""
    staff = current_staff()
    if staff is None:
        return _signed_out(None, 200)
    catalog = live_catalog().catalog
    matters = [catalog.matters[code] for code in DEMO_MATTERS if code in catalog.matters]
    situations = {matter.code: [(key, HOUSEHOLD_SITUATIONS[key]) for key in DEMO_MATTERS[matter.code].situations]
                  for matter in matters}
    return _no_store(make_response(render_template(
        "caseworker.html", staff=staff, role_zh=ROLES[staff.role].name_zh,
        department_zh=catalog.departments[staff.department].legal_name_zh, csrf_token=staff_csrf_token(),
        matters=matters, situations=situations, labels=_labels(catalog), demo=runtime().settings.dev_idp)))


@bp.route("/session", methods=["POST"])
def start_session() -> Response:
    """The identity provider hands a staff assertion over (form field `assertion`); a valid one
    starts the staff session and opens the workbench."""
    assertion = request.form.get("assertion", "")
    try:
        verify_staff(assertion)
    except InvalidAssertion:
        return _signed_out("登录凭证无效或已过期，请重新登录。", 400)
    return start_staff_session(redirect(url_for("caseworker_pages.workbench"), 303), assertion)


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    """End the staff session (the form carries the session's CSRF token, so no other site can)."""
    response = redirect(url_for("caseworker_pages.workbench"), 303)
    if form_token_valid(STAFF_COOKIE):
        end_staff_session(response)
    return response


@bp.route("/demo-households")
def households() -> Response:
    """Demo households of a situation, each with its members (ID numbers masked) and the
    application request to file for it; 404 when the installation has no demo data."""
    client = require_client(ClientScope.APPLICATIONS_WRITE)
    if not runtime().settings.dev_idp:
        raise Problem("not-found", "Demo households are offered only with the development identity provider.")
    catalog = live_catalog().catalog
    code = request.args.get("matter", PUBLIC_RENTAL_HOUSING)
    demo = DEMO_MATTERS.get(code)
    if demo is None or code not in catalog.matters:
        raise _bad_parameter("matter", f"the page files no demo applications for matter {code!r}")
    situation = request.args.get("situation", "")
    if situation not in demo.situations:
        raise _bad_parameter("situation", f"one of {', '.join(demo.situations)}")
    change = _income_change(request.args.get("declared_income_change", "0"))
    try:
        found = demo_households(runtime().settings.sources_dir, catalog, situation, HOUSEHOLDS_LISTED)
    except DemoDataMissing:
        raise Problem("not-found", "This installation has no demo source data.") from None
    signed_at = datetime.now(timezone.utc).replace(microsecond=0)
    caseworker = acting_caseworker_id(client.client_id)
    return _no_store(jsonify([_household_view(household, demo.build(
        household, f"cw-{uuid4().hex}", signed_at=signed_at, declared_income_change=change, caseworker_id=caseworker))
        for household in found]))


def _household_view(household: DemoHousehold, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": household.number, "description": household.description,
        "members": [{"name": member.name, "id_masked": mask_id_number(member.id_number), "age": member.age,
                     "relation": member.relation} for member in household.members],
        "monthly_income_per_person": format(household.monthly_income_per_person, "f"),
        "request": body,
    }


def _income_change(text: str) -> Decimal:
    try:
        change: Decimal | None = Decimal(text)
    except InvalidOperation:
        change = None
    if change is None or not change.is_finite() or abs(change) > MAX_INCOME_CHANGE:
        raise _bad_parameter("declared_income_change",
                             f"a number of yuan between -{MAX_INCOME_CHANGE} and {MAX_INCOME_CHANGE}")
    return change.quantize(Decimal("1.00"))


def _bad_parameter(name: str, detail: str) -> Problem:
    return Problem("invalid-request", f"{name}: {detail}", errors=[{"parameter": name, "detail": detail}])


def _signed_out(error: str | None, status: int) -> Response:
    """How to sign in: the development provider's staff sign-in, or the city's provider."""
    dev_idp = runtime().identity.dev_idp is not None
    sign_in = url_for("dev_idp_staff.login", next=url_for("caseworker_pages.workbench")) if dev_idp else None
    expired = error is None and bool(request.cookies.get(STAFF_COOKIE))
    return _no_store(make_response(render_template("caseworker_signed_out.html", sign_in=sign_in, error=error,
                                                   expired=expired), status))


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
