"""The development identity provider's edges (开发测试用身份认证): a Chinese sign-in page
(`/dev-idp/login`) that sets the assertion as a cookie and shows it (or returns to `next`, a
same-site path such as `/portal`), and `POST /dev-idp/token`
for curl users. Registered only in demo mode (MIANZHENG_DEV_IDP on); never in production.

It signs an assertion for whatever name and valid ID number are typed in: it proves nothing.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint as PageBlueprint
from flask import Response, make_response, redirect, render_template, request

from api.auth import IDENTITY_COOKIE, SIGN_IN_COOKIE_MAX_AGE, from_another_site
from demo.routes.support import ANOTHER_SITE_ZH, DevTokenSchema, dev_provider, same_site_path, token_answer
from api.openapi import Blueprint
from api.runtime import runtime
from catalog.citizen_id import mask_id_number
from catalog.errors import InvalidIdentifier
from exchange.identity import MAX_LIFETIME, MAX_NAME_LENGTH

bp = PageBlueprint("dev_idp_page", __name__, url_prefix="/dev-idp", template_folder="../templates")
blp = Blueprint("dev-idp", __name__, url_prefix="/dev-idp",
                description="DEVELOPMENT identity provider (开发测试用身份认证) — demo and tests only, never production")


class DevTokenRequestSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, MAX_NAME_LENGTH),
                            metadata={"example": "张三"})
    id_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 32),
                                 metadata={"example": "11010519491231002X"})


@blp.route("/token", methods=["POST"])
@blp.arguments(DevTokenRequestSchema)
@blp.response(200, DevTokenSchema)
def token(body: dict[str, str]) -> dict[str, Any]:
    """Issue a development identity assertion for any name and valid ID number (NOT for production)."""
    return token_answer("id_number", lambda provider: provider.issue_dev_assertion(body["id_number"], body["name"]))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """The sign-in page; a successful POST sets the assertion cookie and shows the assertion,
    or redirects to `next` when that is a path of this site."""
    provider = dev_provider()
    name = request.form.get("name", "").strip()[:MAX_NAME_LENGTH]
    id_number = request.form.get("id_number", "").strip()[:18]
    next_path = same_site_path(request.values.get("next", ""))
    context: dict[str, Any] = {"name": name, "id_number": id_number, "error": None, "assertion": None,
                               "next": next_path, "lifetime_minutes": int(MAX_LIFETIME.total_seconds() // 60)}
    if request.method == "GET":
        return make_response(render_template("dev_idp_login.html", **context))
    if from_another_site():  # another site signing the visitor in as someone of its choosing
        context["error"] = ANOTHER_SITE_ZH
        return make_response(render_template("dev_idp_login.html", **context), 403)
    try:
        assertion = provider.issue_dev_assertion(id_number, name)
    except InvalidIdentifier:
        context["error"] = "身份证号无效：请检查位数、出生日期和末位校验码。"
    except ValueError:
        context["error"] = f"请填写姓名（不超过 {MAX_NAME_LENGTH} 个字）。"
    else:
        context.update(assertion=assertion, citizen_name=name, masked_id_number=mask_id_number(id_number.upper()),
                       id_number="")
    if context["assertion"] and next_path:
        response = redirect(next_path, 303)
    else:
        response = make_response(render_template("dev_idp_login.html", **context), 400 if context["error"] else 200)
    if context["assertion"]:
        response.set_cookie(IDENTITY_COOKIE, context["assertion"], max_age=SIGN_IN_COOKIE_MAX_AGE, httponly=True,
                            samesite="Lax", secure=runtime().settings.over_https)
    return response
