"""Rate limiting of public verification requests, per client address.

Kept in each worker process: with N workers a client gets up to N times the rate. Behind a
reverse proxy, the proxy should set the client address (gunicorn's forwarded-allow-ips) or
apply its own limit; see docs/operations.md.
"""

from __future__ import annotations

from flask import request

from api.problems import Problem
from api.runtime import runtime


def limit_verification() -> None:
    """429 rate-limited (with Retry-After) when the caller's address verifies too often."""
    wait = runtime().verify_bucket.take(request.remote_addr or "unknown")
    if wait:
        raise Problem("rate-limited", "Too many verifications from this address; slow down.",
                      headers={"Retry-After": str(int(wait) + 1)})
