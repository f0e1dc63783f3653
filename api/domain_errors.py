"""Domain errors of the inner packages, answered as HTTP problems.

Inner packages raise their own exceptions and know nothing of HTTP; this table says which
problem each becomes. The exception's message (never secret material by their contract)
is the problem's detail — except for a seal that cannot sign (`KeyUnavailable`,
`NoActiveSeal`): its message names the installation's key files and departments' seals, which
go to the server's log for the seal officer, while the caller is told in Chinese to try later.
A database that cannot be used now (its server down or restarting, a lock not had in time:
SQLAlchemy's `OperationalError` that no step retried away) is the same kind of answer: 503
with `Retry-After`, the cause in the log, never the connection's address in the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container

from flask import Flask, Response
from sqlalchemy.exc import OperationalError

from api.problems import INVALID_TOKEN_CHALLENGE, Problem, json_pointer, problem_response
from catalog.errors import NoCatalogPublished
from exchange.access_log import ChainConflict
from exchange.applications.investigation import TaskAlreadyDone, TaskNotRequired
from exchange.applications.service import ApplicationConcluded, ApplicationWithdrawn
from exchange.consent import ConsentRefused
from exchange.errors import InvalidInput, NotFound, NotPrintable, UnknownCode
from exchange.identity import InvalidKeyMaterial
from exchange.keyring import SealedRecordAltered
from exchange.operations import CatalogNotAsPublished
from exchange.licenses.service import LicenseConflict
from exchange.pull_service import RETRY_AFTER_NO_SEAL, PullRefused
from exchange.sources.directory import SourcesConfigInvalid
from seals.errors import (
    CaAlreadyExists,
    CaMissing,
    InvalidCaMaterial,
    KeyUnavailable,
    NoActiveSeal,
    SealAlreadyActive,
    SealNotFound,
    SealRevoked,
)

PROBLEM_OF: dict[type[Exception], str] = {
    NoCatalogPublished: "service-unavailable",
    CaMissing: "service-unavailable",
    CaAlreadyExists: "conflict",
    SealAlreadyActive: "conflict",
    SealRevoked: "conflict",
    LicenseConflict: "conflict",
    TaskAlreadyDone: "conflict",
    TaskNotRequired: "conflict",
    ApplicationWithdrawn: "conflict",
    ApplicationConcluded: "conflict",
    InvalidCaMaterial: "invalid-request",
    SealNotFound: "not-found",
    NotFound: "not-found",
    ConsentRefused: "consent-required",
    InvalidKeyMaterial: "service-unavailable",
    ChainConflict: "service-unavailable",
}


def register_domain_errors(app: Flask) -> None:
    for exception_type, slug in PROBLEM_OF.items():
        app.register_error_handler(exception_type, _handler(slug))
    app.register_error_handler(InvalidInput, _invalid_input)
    app.register_error_handler(PullRefused, _pull_refused)
    app.register_error_handler(NotPrintable, _not_printable)
    for seal_error in (KeyUnavailable, NoActiveSeal):
        app.register_error_handler(seal_error, _seal_cannot_sign)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(SourcesConfigInvalid, _sources_file_unusable)
    for altered in (SealedRecordAltered, CatalogNotAsPublished):
        app.register_error_handler(altered, _stored_record_altered)


def field_pointer(field: str) -> str:
    """The JSON pointer of a field path such as `commitments[0].values.income` (#/commitments/0/values/income)."""
    return json_pointer(re.findall(r"[^.\[\]]+", field))


def _invalid_input(error: InvalidInput) -> Response:
    """invalid-request naming the field at fault."""
    return problem_response(Problem("invalid-request", str(error),
                                    errors=[{"pointer": field_pointer(error.field), "detail": error.detail}]))


def parameter_problem(error: InvalidInput) -> Problem:
    """invalid-request naming the query parameter `error.field`."""
    return Problem("invalid-request", str(error), errors=[{"parameter": error.field, "detail": error.detail}])


def known_code(codes: Container[str], value: str | None, parameter: str) -> None:
    """A 400 naming the query `parameter` unless `value` is absent or one of `codes`."""
    if value is not None and value not in codes:
        raise parameter_problem(UnknownCode(parameter, f"unknown code {value!r}"))


def _not_printable(error: NotPrintable) -> Response:
    return problem_response(Problem("not-printable", str(error), extensions={"detail_zh": error.detail_zh}))


log = logging.getLogger(__name__)


def _sources_file_unusable(error: SourcesConfigInvalid) -> Response:
    """The sources file changed under a running server and cannot be used (a department's records
    database moved away): the operator reads why in the log; the caller, that it may try later."""
    log.error("the sources file cannot be used: %s", error)
    return problem_response(Problem(
        "service-unavailable", "The exchange cannot reach its source departments now; the operators are told. "
                               "Try again later.", headers={"Retry-After": "60"}))


def _stored_record_altered(error: SealedRecordAltered | CatalogNotAsPublished) -> Response:
    """A sealed value that does not open (changed beside the exchange, or its row), or a catalog
    version not as the chain records its publication: nothing of it is used; the operators and
    auditors read it in the log (`mianzheng audit verify` names what the tables no longer hold as
    the chain records it)."""
    log.error("a stored record was altered: %s", error)
    return problem_response(Problem(
        "stored-record-altered", "A record this needs was changed outside the exchange; nothing of it is used, "
                                 "and the operators are told.",
        extensions={"detail_zh": "办理所需的一项存储记录已在交换平台之外被改动，交换平台不予使用，已告知运维人员。"
                                 "请到办事窗口办理。"}))


def _seal_cannot_sign(error: KeyUnavailable | NoActiveSeal) -> Response:
    log.warning("a seal cannot sign: %s", error)
    return problem_response(Problem(
        "service-unavailable", "The seal this needs cannot sign now; the operators are told. Try again later.",
        extensions={"detail_zh": "所需的电子印章暂时无法签章，已告知运维人员，请稍后再试或到办事窗口办理。"},
        headers={"Retry-After": str(RETRY_AFTER_NO_SEAL)}))


RETRY_AFTER_DATABASE = 5
"""Seconds a caller waits before trying again when the database cannot be used."""


def _database_unavailable(error: OperationalError) -> Response:
    log.warning("the database cannot be used now: %s", error.orig if error.orig is not None else error)
    return problem_response(Problem(
        "service-unavailable", "The service's database cannot be used now. Try again shortly.",
        extensions={"detail_zh": "服务暂时无法访问数据库，请稍后再试。"},
        headers={"Retry-After": str(RETRY_AFTER_DATABASE)}))


def _pull_refused(refused: PullRefused) -> Response:
    """The problem the refusal names, pointing at the envelope member at fault, with Retry-After
    when trying again later can help."""
    errors = [{"pointer": refused.field, "detail": refused.detail}] if refused.field else None
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
    if refused.kind == "unauthenticated":  # the client's token was revoked while its request was answered
        headers["WWW-Authenticate"] = INVALID_TOKEN_CHALLENGE
    return problem_response(Problem(refused.kind, refused.detail, errors=errors, headers=headers or None))


def _handler(slug: str):  # type: ignore[no-untyped-def]
    def handle(error: Exception) -> Response:
        return problem_response(Problem(slug, str(error)))

    return handle
