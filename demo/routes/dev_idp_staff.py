"""The development identity provider's staff sign-in (开发测试用身份认证·工作人员): a Chinese page
(`/dev-idp/staff-login`) listing one made-up caseworker per department of the live catalog;
choosing one signs their staff assertion and starts the staff session (`api.staff_session`),
then returns to `next` (a same-site path such as `/caseworker`). Registered only in demo mode
(MIANZHENG_DEV_IDP on); never in production. It proves nothing about anyone.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for

from demo.routes.support import ANOTHER_SITE_ZH, dev_provider, same_site_path
from api.auth import from_another_site
from api.live_catalog import live_catalog
from api.staff_session import start_staff_session
from demo.identity_provider import demo_staff, issue_dev_staff_assertion
from exchange.staff import ROLES

bp = Blueprint("dev_idp_staff", __name__, url_prefix="/dev-idp", template_folder="../templates")


@bp.route("/staff-login", methods=["GET", "POST"])
def login() -> Response:
    """The demo staff to choose from; a POST naming one of them starts their session."""
    provider = dev_provider()
    catalog = live_catalog().catalog
    staff = demo_staff(catalog)
    next_path = same_site_path(request.values.get("next", "")) or url_for("caseworker_pages.workbench")
    chosen = next((member for member in staff if member.staff_number == request.form.get("staff_number")), None)
    refused = request.method == "POST" and from_another_site()  # another site choosing who signs in
    if request.method == "POST" and chosen is not None and not refused:
        return start_staff_session(redirect(next_path, 303), issue_dev_staff_assertion(provider, chosen))
    error = ANOTHER_SITE_ZH if refused else "请从列表中选择一位工作人员。" if request.method == "POST" else None
    rows = [{"staff": member, "department_zh": catalog.departments[member.department].legal_name_zh,
             "role_zh": ROLES[member.role].name_zh} for member in staff]
    response = make_response(render_template("dev_idp_staff_login.html", rows=rows, next=next_path, error=error),
                             403 if refused else 400 if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response
