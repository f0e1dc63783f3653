"""The reference connector: a small WSGI app serving one source department's records from
that department's own database, per the connector contract (docs/connectors.md).

    POST /v1/records/query   the record of one subject for one proof (bearer token)
    GET  /openapi.json       the contract's OpenAPI description
    GET  /healthz            liveness

Errors are RFC 9457 problems (api/problems.py). It reads the database through the
in-process adapter, so the exchange gets the same answer in-process and over HTTP. ID
numbers are never logged: gunicorn's access log has no bodies, and the app logs none.
"""

from __future__ import annotations

import hmac
import logging
import os

from flask import Flask, Response, jsonify, request

from api.problems import Problem, register_problem_handlers
from catalog import bounded_json
from catalog.model import Catalog
from exchange.sources.contract import SourceProtocolError, SourceUnavailable, SubjectNotFound
from exchange.sources.inprocess_source import InProcessSource
from exchange.sources.openapi import connector_openapi
from exchange.sources.wire import OPENAPI_PATH, QUERY_PATH, InvalidQuery, answer_document, parse_query

log = logging.getLogger(__name__)


def create_connector_app(
    department_code: str, database_url_or_path: str | os.PathLike[str], token: str, catalog: Catalog
) -> Flask:
    """The connector of `department_code` reading `database_url_or_path`, accepting `token`."""
    if department_code not in {proof.department for proof in catalog.proofs.values()}:
        raise ValueError(f"{department_code} is not the source department of any proof in the catalog")
    if not token:
        raise ValueError("the connector needs a token")
    expected = token.encode("utf-8")
    source = InProcessSource(department_code, database_url_or_path, catalog)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=16 * 1024)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]  # records keep the catalog's item order
    register_problem_handlers(app)

    @app.post(QUERY_PATH)
    def query() -> Response:
        _authenticate(expected)
        if not request.is_json:
            raise Problem("unsupported-media-type", "Send the query as application/json.")
        try:
            body = bounded_json.loads(request.get_data())
        except ValueError:  # not JSON, or nested deeper than a query ever is
            raise Problem("invalid-request", "The body is not valid JSON.") from None
        try:
            wanted = parse_query(body, catalog, department_code)
            answer = source.query(wanted.proof.code, wanted.subject_id, wanted.name)
        except InvalidQuery as invalid:
            errors = [{"pointer": pointer, "detail": detail} for pointer, detail in invalid.errors]
            raise Problem("invalid-request", str(invalid), errors=errors) from None
        except SubjectNotFound as missing:
            raise Problem("subject-not-found", str(missing)) from None
        except SourceUnavailable as unavailable:
            headers = {"Retry-After": str(unavailable.retry_after_seconds)}
            raise Problem("service-unavailable", unavailable.reason, headers=headers) from None
        except SourceProtocolError as broken:
            log.error("department %s: a stored record breaks the contract: %s", department_code, broken.reason)
            raise Problem("internal-error", "The department's record does not match the catalog.") from None
        return jsonify(answer_document(answer))

    @app.get(OPENAPI_PATH)
    def openapi() -> Response:
        return jsonify(connector_openapi())

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "department": department_code})

    return app


def _authenticate(expected: bytes) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode("utf-8"), expected):
        raise Problem("unauthenticated", "A valid bearer token is required.", headers={"WWW-Authenticate": "Bearer"})
