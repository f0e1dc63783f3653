"""`POST /api/v1/exchange/requests`: a department system pulls a citizen's proof data."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import CLIENT_SECURITY, client_first, require_client
from api.openapi import Blueprint
from api.pull_context import pull_context
from api.runtime import runtime
from api.schemas.exchange import ExchangeAnswerSchema, ExchangeRequestSchema
from catalog import bounded_json
from exchange.clients import ClientScope
from exchange.access_log import AccessEntry, Outcome, Reason, record_access
from exchange.pull_service import REQUEST_ID, Envelope, answer_request

blp = Blueprint("exchange", __name__, url_prefix="/api/v1/exchange",
                description="Departments pull proof data from source departments instead of asking for paper")


@blp.route("/requests", methods=["POST"])
@client_first(ClientScope.EXCHANGE_REQUEST)
@blp.arguments(ExchangeRequestSchema)
@blp.response(200, ExchangeAnswerSchema)
@blp.alt_response(401, description="No or invalid client token")
@blp.alt_response(403, description="forbidden-by-policy or consent-required")
@blp.alt_response(404, description="subject-not-found: the source holds no record of the subject")
@blp.alt_response(409, description="The request id is in use for another request, or still being answered")
@blp.alt_response(503, description="source-unavailable, with Retry-After")
@blp.doc(security=CLIENT_SECURITY)
def request_proof(body: dict[str, Any]) -> Response:
    """Ask for one proof of one subject for one matter.

    Deny by default: the catalog must let the client's department ask for this proof in this
    matter, and the citizen must have consented unless the matter's legal basis exempts it.
    The answer holds only the fields the matter may receive, the source and its "as of" time,
    and a receipt signed with the exchange's seal. Repeating a request id returns the stored
    answer (header `Idempotent-Replayed: true`) without pulling again. Every request is logged.
    """
    client = require_client(ClientScope.EXCHANGE_REQUEST)
    subject = body["subject"]
    envelope = Envelope(
        request_id=body["request_id"], caseworker_id=body["caseworker_id"], case_number=body["case_number"],
        matter=body["matter"], proof=body["proof"], purpose=body["purpose"], subject_name=subject.get("name"),
        subject_id_number=subject.get("id_number"), subject_uscc=subject.get("uscc"),
        consent_id=body.get("consent_id"), legal_basis=body.get("legal_basis"),
    )
    context = pull_context()
    g.access_logged = True  # from here on the use case logs whatever happens
    result = answer_request(context, client, envelope)
    response = jsonify(result.body)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blp.after_request
def log_refusals_before_the_use_case(response: Response) -> Response:
    """A request refused before `answer_request` ran (credentials, scope, a malformed body) or
    failed without an entry is logged here: every exchange request leaves one."""
    if response.status_code < 400 or g.get("access_logged"):
        return response
    client = g.get("client")
    request_id = _request_id_of_body() if request.is_json and client is not None else None  # nothing read for strangers
    reason = _EDGE_REASONS.get(response.status_code, Reason.INVALID_REQUEST if response.status_code < 500
                               else Reason.INTERNAL_ERROR)
    record_access(runtime().sessions, AccessEntry(
        outcome=Outcome.FAILED if response.status_code >= 500 else Outcome.DENIED, reason=reason,
        request_id=request_id if isinstance(request_id, str) and REQUEST_ID.fullmatch(request_id) else None,
        client_id=client.client_id if client else None, consumer_department=client.department_code if client else None))
    return response


def _request_id_of_body() -> object:
    """The body's `request_id`, read as the parser reads bodies (bounded); None from a body it
    refused (too large, too deep, not JSON)."""
    try:
        body = bounded_json.loads(request.get_data(cache=True))
    except (ValueError, RequestEntityTooLarge):
        return None
    return body.get("request_id") if isinstance(body, dict) else None


_EDGE_REASONS = {401: Reason.UNAUTHENTICATED, 403: Reason.INSUFFICIENT_SCOPE}
