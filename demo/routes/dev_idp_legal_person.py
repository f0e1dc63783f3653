"""The development identity provider's legal-person sign-in (开发测试用法人登录,
`POST /dev-idp/legal-person/token`): a legal-person assertion for any valid USCC and names, to
try the organisations' licenses (`api.routes.org_licenses`). Registered only in demo mode;
never in production. It proves nothing about anyone.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.openapi import Blueprint
from demo.identity_provider import issue_dev_legal_person_assertion
from demo.routes.support import DevTokenSchema, token_answer
from exchange.identity import MAX_NAME_LENGTH

dev_blp = Blueprint("dev-idp-legal-person", __name__, url_prefix="/dev-idp/legal-person",
                    description="DEVELOPMENT legal-person sign-in (开发测试用法人登录) — demo and tests only")


class DevLegalPersonTokenRequestSchema(ma.Schema):
    uscc = ma.fields.String(required=True, validate=ma.validate.Length(1, 32),
                            metadata={"example": "91330702MA2D0K9X4L"})
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, MAX_NAME_LENGTH),
                            metadata={"example": "金华市某某科技有限公司"})
    agent_name = ma.fields.String(required=True, validate=ma.validate.Length(1, MAX_NAME_LENGTH),
                                  metadata={"example": "张三", "description": "Who signs in for the organisation"})


@dev_blp.route("/token", methods=["POST"])
@dev_blp.arguments(DevLegalPersonTokenRequestSchema)
@dev_blp.response(200, DevTokenSchema)
def token(body: dict[str, str]) -> dict[str, Any]:
    """Issue a development legal-person assertion for any valid USCC and names (NOT for production)."""
    return token_answer("uscc", lambda provider: issue_dev_legal_person_assertion(
        provider, body["uscc"], body["name"], body["agent_name"]))
