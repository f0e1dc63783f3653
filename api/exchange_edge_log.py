"""The access-log entry of an exchange request refused at the HTTP edge, before its use case
ran (no or a bad client token, a missing scope, a malformed body) or failed without one: the
exchange's endpoints (`/api/v1/exchange/requests`, `/api/v1/exchange/license-uses`) register
`log_refusal_at_the_edge` after each request, so every exchange request leaves its entry. A
route sets `g.access_logged` once its use case logs whatever happens.

A caller without a client token names no department and is read nothing from: past a burst per
address (`api.token_bucket.STRANGER_REFUSALS_BURST`, per process) its refusals are answered the
same but no longer appended to the log, whose every append takes the chain's lock that real
pulls wait on; the server's log says so once a minute per address, and `mianzheng_http_requests`
still counts every one. A failure (5xx) is always logged, unless the database itself cannot be
used (the request's answer is then a 503 to retry, and stays one; the server's log says so)."""

from __future__ import annotations

import logging

from flask import Response, g, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from api.runtime import runtime
from api.token_bucket import STRANGER_REFUSALS_PER_SECOND
from catalog import bounded_json
from exchange.access_log import AccessEntry, ChainConflict, Outcome, Reason, record_access
from exchange.pull_service import REQUEST_ID

log = logging.getLogger(__name__)

_EDGE_REASONS = {401: Reason.UNAUTHENTICATED, 403: Reason.INSUFFICIENT_SCOPE}


def log_refusal_at_the_edge(response: Response) -> Response:
    """Log a refusal (4xx) or failure (5xx) no use case logged; the response unchanged."""
    if response.status_code < 400 or g.get("access_logged"):
        return response
    client = g.get("client")
    if client is None and response.status_code < 500 and not _logged_for_a_stranger():
        return response
    request_id = _request_id_of_body() if request.is_json and client is not None else None  # nothing read for strangers
    reason = _EDGE_REASONS.get(response.status_code, Reason.INVALID_REQUEST if response.status_code < 500
                               else Reason.INTERNAL_ERROR)
    entry = AccessEntry(
        outcome=Outcome.FAILED if response.status_code >= 500 else Outcome.DENIED, reason=reason,
        request_id=request_id if isinstance(request_id, str) and REQUEST_ID.fullmatch(request_id) else None,
        client_id=client.client_id if client else None, consumer_department=client.department_code if client else None)
    try:
        record_access(runtime().sessions, entry)
    except (ChainConflict, SQLAlchemyError) as error:  # the database is down: the answer (a 503) stands
        log.warning("an exchange request %s (%d) could not be written to the access log: %s",
                    "failed" if response.status_code >= 500 else "refused", response.status_code, type(error).__name__)
    return response


def _request_id_of_body() -> object:
    """The body's `request_id`, read as the parser reads bodies (bounded); None from a body it
    refused (too large, too deep, not JSON)."""
    try:
        body = bounded_json.loads(request.get_data(cache=True))
    except (ValueError, RequestEntityTooLarge):
        return None
    return body.get("request_id") if isinstance(body, dict) else None


def _logged_for_a_stranger() -> bool:
    """Whether this address's refusals without a client token are still within its burst."""
    address = request.remote_addr or "unknown"
    if not runtime().stranger_refusal_bucket.take(address):
        return True
    if not runtime().stranger_warning_bucket.take(address):
        log.warning("Exchange calls without a client token from %s exceed %s/s; their refusals are "
                    "answered but no longer written to the access log", address, STRANGER_REFUSALS_PER_SECOND)
    return False
