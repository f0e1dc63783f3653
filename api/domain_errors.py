"""Domain errors of the inner packages, answered as HTTP problems.

Inner packages raise their own exceptions and know nothing of HTTP; this table says which
problem each becomes. The exception's message (never secret material by their contract)
is the problem's detail.
"""

from __future__ import annotations

from flask import Flask, Response

from api.problems import Problem, problem_response
from catalog.errors import NoCatalogPublished
from exchange.access_log import ChainConflict
from exchange.consent import ConsentRefused
from exchange.errors import InvalidInput, NotFound
from exchange.identity import InvalidKeyMaterial
from seals.errors import (
    CaAlreadyExists,
    CaMissing,
    InvalidCaMaterial,
    KeyUnavailable,
    SealAlreadyActive,
    SealNotFound,
    SealRevoked,
)

PROBLEM_OF: dict[type[Exception], str] = {
    NoCatalogPublished: "service-unavailable",
    CaMissing: "service-unavailable",
    KeyUnavailable: "service-unavailable",
    CaAlreadyExists: "conflict",
    SealAlreadyActive: "conflict",
    SealRevoked: "conflict",
    InvalidCaMaterial: "invalid-request",
    SealNotFound: "not-found",
    NotFound: "not-found",
    InvalidInput: "invalid-request",
    ConsentRefused: "consent-required",
    InvalidKeyMaterial: "service-unavailable",
    ChainConflict: "service-unavailable",
}


def register_domain_errors(app: Flask) -> None:
    for exception_type, slug in PROBLEM_OF.items():
        app.register_error_handler(exception_type, _handler(slug))


def _handler(slug: str):  # type: ignore[no-untyped-def]
    def handle(error: Exception) -> Response:
        return problem_response(Problem(slug, str(error)))

    return handle
