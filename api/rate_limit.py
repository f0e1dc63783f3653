"""Rate limiting of the requests that cost CPU: public verifications per client address, catalog
validations per client.

Kept in each worker process: with N workers a client gets up to N times the rate. Behind a
reverse proxy, the proxy should set the client address (gunicorn's forwarded-allow-ips) or
apply its own limit; see docs/operations.md.
"""

from __future__ import annotations

from flask import request

from api.auth import require_client
from api.problems import Problem
from api.runtime import runtime
from api.token_bucket import TokenBucket
from exchange.clients import ClientScope


def limit_verification() -> None:
    """429 rate-limited (with Retry-After) when the caller's address verifies too often."""
    _take(runtime().verify_bucket, request.remote_addr or "unknown", "Too many verifications from this address")


def limit_catalog_validation() -> None:
    """429 rate-limited when the catalog administrator's client validates too often."""
    client = require_client(ClientScope.CATALOG_ADMIN)
    _take(runtime().validation_bucket, client.client_id, "Too many catalog validations from this client")


def _take(bucket: TokenBucket, key: str, what: str) -> None:
    wait = bucket.take(key)
    if wait:
        raise Problem("rate-limited", f"{what}; slow down.", headers={"Retry-After": str(int(wait) + 1)})
