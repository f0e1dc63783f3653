"""`POST /api/v1/exchange/requests`: a department system pulls a citizen's proof data."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from api.auth import CLIENT_SECURITY, client_first, require_client
from api.exchange_edge_log import log_refusal_at_the_edge
from api.openapi import REPLAYED_HEADER, Blueprint
from api.pull_context import pull_context
from api.schemas.exchange import ExchangeAnswerSchema, ExchangeRequestSchema
from exchange.clients import ClientScope
from exchange.pull_service import Envelope, answer_request

blp = Blueprint("exchange", __name__, url_prefix="/api/v1/exchange",
                description="Departments pull proof data from source departments instead of asking for paper")
blp.after_request(log_refusal_at_the_edge)  # every exchange request leaves its entry


@blp.route("/requests", methods=["POST"])
@client_first(ClientScope.EXCHANGE_REQUEST)
@blp.arguments(ExchangeRequestSchema)
@blp.response(200, ExchangeAnswerSchema, headers={"Idempotent-Replayed": REPLAYED_HEADER})
@blp.alt_response(401, description="No or invalid client token, or a token revoked or replaced while the request "
                                   "was answered")
@blp.alt_response(403, description="forbidden-by-policy or consent-required")
@blp.alt_response(404, description="subject-not-found: the source holds no record of the subject")
@blp.alt_response(409, description="The request id is in use for another request, or still being answered")
@blp.alt_response(502, description="source-error: the source answered against its contract or refused the query "
                                   "(retrying does not help; the operator's log has its reason)")
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
    result = answer_request(context, client, envelope, to_the_client=True)
    response = jsonify(result.body)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response

