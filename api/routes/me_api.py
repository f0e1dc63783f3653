"""The signed-in citizen's own data (`/api/v1/me/...`): who used my data (the access log
entries about me) and my consents (preview, grant, list, withdraw).

The citizen is identified by an identity assertion (`api.auth.current_citizen`); everything
is looked up by subject key, so no ID number is stored or compared in clear.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from api.access_log_views import access_log_page
from api.auth import CITIZEN_SECURITY, citizen_first, citizen_subject_key, current_citizen
from api.live_catalog import live_catalog, naming_catalog
from api.openapi import Blueprint
from api.presenters import consent_view
from api.problems import Problem
from api.runtime import db
from api.schemas.me import (
    AccessLogPageSchema, ConsentCreateSchema, ConsentPreviewSchema, ConsentSchema, PageQuerySchema,
)
from exchange.consent import (
    Channel, ConsentPreview, ConsentRequest, grant_consent, list_consents, preview_consent, withdraw_consent,
)
from exchange.errors import InvalidInput

blp = Blueprint("me", __name__, url_prefix="/api/v1/me",
                description="The signed-in citizen: who used my data, and my consents")


@blp.route("/access-log")
@citizen_first
@blp.arguments(PageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, AccessLogPageSchema)
@blp.doc(security=CITIZEN_SECURITY)
def access_log(args: dict[str, int]) -> dict[str, Any]:
    """Who used my data: every request about me — allowed, denied or failed — newest first."""
    key = citizen_subject_key(current_citizen())
    return access_log_page(key, limit=args["limit"], offset=args["offset"], before_seq=args.get("before_seq"))


@blp.route("/consents")
@citizen_first
@blp.response(200, ConsentSchema(many=True))
@blp.doc(security=CITIZEN_SECURITY)
def consents() -> list[dict[str, Any]]:
    """My consents, newest first, with their status now."""
    key = citizen_subject_key(current_citizen())
    catalog = naming_catalog()  # a consent to a matter dropped since keeps its name
    return [consent_view(catalog, consent) for consent in list_consents(db(), key)]


@blp.route("/consents", methods=["POST"])
@citizen_first
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentSchema)
@blp.doc(security=CITIZEN_SECURITY)
def grant(body: dict[str, Any]) -> dict[str, Any]:
    """Let a department pull the named proofs of a matter about me, for a number of days."""
    key = citizen_subject_key(current_citizen())
    catalog = live_catalog().catalog
    request = ConsentRequest(matter=body["matter"], proofs=body["proofs"],
                             consumer_department=body["department"], days=body["days"])
    session = db()
    try:
        consent = grant_consent(session, catalog, key, request, channel=Channel.ONLINE)
    except InvalidInput as invalid:
        raise Problem("invalid-request", str(invalid),
                      errors=[{"pointer": f"#/{invalid.field}", "detail": invalid.detail}]) from None
    session.commit()
    return consent_view(catalog, consent)


@blp.route("/consents/preview", methods=["POST"])
@citizen_first
@blp.arguments(ConsentCreateSchema)
@blp.response(200, ConsentPreviewSchema)
@blp.doc(security=CITIZEN_SECURITY)
def preview(body: dict[str, Any]) -> ConsentPreview:
    """What granting this consent would release (department, matter and legal basis, each proof's
    source and data items, days), for the citizen to see before granting; records nothing."""
    current_citizen()
    request = ConsentRequest(matter=body["matter"], proofs=body["proofs"],
                             consumer_department=body["department"], days=body["days"])
    return preview_consent(live_catalog().catalog, request)


@blp.route("/consents/<consent_id>", methods=["DELETE"])
@citizen_first
@blp.response(200, ConsentSchema)
@blp.doc(security=CITIZEN_SECURITY)
def withdraw(consent_id: str) -> dict[str, Any]:
    """Withdraw one of my consents (repeating it changes nothing); 404 if it is not mine."""
    key = citizen_subject_key(current_citizen())
    session = db()
    consent = withdraw_consent(session, consent_id, subject_key=key)
    session.commit()
    return consent_view(naming_catalog(), consent)
