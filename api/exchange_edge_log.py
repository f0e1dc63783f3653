"""The access-log entry of an exchange request refused at the HTTP edge, before its use case
ran (no or a bad client token, a missing scope, a malformed body) or failed without one: the
exchange's endpoints (`/api/v1/exchange/requests`, `/api/v1/exchange/license-uses`) register
`log_refusal_at_the_edge` after each request, so every exchange request leaves its entry. A
route sets `g.access_logged` once its use case logs whatever happens."""

from __future__ import annotations

from flask import Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.runtime import runtime
from catalog import bounded_json
from exchange.access_log import AccessEntry, Outcome, Reason, record_access
from exchange.pull_service import REQUEST_ID

_EDGE_REASONS = {401: Reason.UNAUTHENTICATED, 403: Reason.INSUFFICIENT_SCOPE}


def log_refusal_at_the_edge(response: Response) -> Response:
    """Log a refusal (4xx) or failure (5xx) no use case logged; the response unchanged."""
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
