"""RFC 9457 problem details: the one shape of every error the HTTP API returns.

A browser that asks for HTML gets the same error as a Chinese page instead (`api.error_pages`).

Each kind of problem has a stable `type` (a URI reference under /problems/ that the app
also serves as a page), a status and a title. Field-level errors follow RFC 9457's own
example: `errors: [{"pointer": "#/subject/id_number", "detail": "..."}]` for the body and
`{"parameter": "mode", "detail": "..."}` for the query string. No stack trace ever leaves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from api.error_pages import error_page, wants_html
from catalog.citizen_id import mask_id_numbers_in

PROBLEM_MEDIA_TYPE = "application/problem+json"
REALM = 'realm="mianzheng"'
INVALID_TOKEN_CHALLENGE = f'Bearer {REALM}, error="invalid_token"'
"""The WWW-Authenticate of a 401 for a token that is not (or no longer) valid."""


@dataclass(frozen=True)
class ProblemType:
    """A stable kind of error: its slug, HTTP status and titles."""

    slug: str
    status: int
    title: str
    title_zh: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


PROBLEM_TYPES: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType("invalid-request", 400, "Invalid request", "请求内容有误"),
        ProblemType("unauthenticated", 401, "Unauthenticated", "请先登录（未认证或凭据无效）"),
        ProblemType("forbidden-by-policy", 403, "Forbidden by policy", "共享规则不允许此次请求"),
        ProblemType("consent-required", 403, "Consent required", "需要本人授权"),
        ProblemType("not-found", 404, "Not found", "未找到"),
        ProblemType("subject-not-found", 404, "Subject not found", "数据源中没有该主体的记录"),
        ProblemType("method-not-allowed", 405, "Method not allowed", "不支持该请求方法"),
        ProblemType("not-acceptable", 406, "Not acceptable", "无法提供所请求的格式"),
        ProblemType("conflict", 409, "Conflict", "与现有状态冲突"),
        ProblemType("fact-not-established", 422, "Fact not established", "记录不能证明该证明所述事实"),
        ProblemType("not-printable", 422, "Not printable", "文书字体无法打印其中的字"),
        ProblemType("payload-too-large", 413, "Payload too large", "请求内容过大"),
        ProblemType("uri-too-long", 414, "URI too long", "请求地址过长"),
        ProblemType("unsupported-media-type", 415, "Unsupported media type", "不支持的内容类型"),
        ProblemType("rate-limited", 429, "Too many requests", "请求过于频繁"),
        ProblemType("headers-too-large", 431, "Request header fields too large", "请求头过大"),
        ProblemType("internal-error", 500, "Internal error", "服务内部错误"),
        ProblemType("stored-record-altered", 500, "Stored record altered", "存储的记录已被改动，不予使用"),
        ProblemType("source-error", 502, "Source error", "数据源部门的答复有误"),
        ProblemType("source-unavailable", 503, "Source unavailable", "数据源部门暂时无法访问"),
        ProblemType("service-unavailable", 503, "Service unavailable", "服务暂时不可用"),
    )
}

_SLUG_BY_STATUS = {
    400: "invalid-request",
    401: "unauthenticated",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "invalid-request",
    429: "rate-limited",
    431: "headers-too-large",
    503: "service-unavailable",
}


def problem_type_for_status(status: int) -> ProblemType:
    """The problem type of an HTTP error status that no view chose (framework, front server)."""
    return PROBLEM_TYPES[_SLUG_BY_STATUS.get(status, "internal-error" if status >= 500 else "invalid-request")]


class Problem(Exception):
    """Raise anywhere in api/ to answer with a problem document."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = PROBLEM_TYPES[slug]
        self.detail = detail
        self.errors = errors or []
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


def problem_response(problem: Problem) -> Response:
    """Render a Problem as an application/problem+json response (a Chinese HTML page for a
    browser, `api.error_pages`)."""
    if wants_html():
        return error_page(problem.kind.slug, problem.kind.status, problem.kind.title_zh, problem.headers,
                          problem.extensions.get("detail_zh"))
    body: dict[str, Any] = {
        "type": problem.kind.uri,
        "title": problem.kind.title,
        "title_zh": problem.kind.title_zh,
        "status": problem.kind.status,
        "detail": mask_id_numbers_in(problem.detail) if isinstance(problem.detail, str) else problem.detail,
        "instance": mask_id_numbers_in(request.path),  # a caller's ID number in a path is not echoed
    }
    if problem.errors:  # each error's detail too: a caller's ID number typed where a code belongs is not echoed
        body["errors"] = [{name: mask_id_numbers_in(value) if name == "detail" and isinstance(value, str) else value
                           for name, value in error.items()} for error in problem.errors]
    body.update(problem.extensions)
    response = Response(
        json.dumps(body, ensure_ascii=False), status=problem.kind.status, mimetype=PROBLEM_MEDIA_TYPE
    )
    response.headers.update(problem.headers)
    return response


def field_errors(messages: Any, location: str) -> list[dict[str, str]]:
    """Flatten marshmallow/webargs error messages into RFC 9457 error members.

    Body errors get a JSON pointer (`#/a/0/b`); query, path and header errors name the parameter.
    """
    errors: list[dict[str, str]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                walk(child, path if key == "_schema" else [*path, str(key)])
        elif isinstance(node, (list, tuple)) and node and all(isinstance(m, str) for m in node):
            errors.append(_member(location, path, "; ".join(node)))
        elif isinstance(node, Iterable) and not isinstance(node, str):
            for child in node:
                walk(child, path)
        else:
            errors.append(_member(location, path, str(node)))

    walk(messages, [])
    return errors


def json_pointer(path: Iterable[str]) -> str:
    """The JSON pointer (RFC 6901, as a URI fragment) of the member at `path`: `#/a/0/b`."""
    return "#" + "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def _member(location: str, path: list[str], detail: str) -> dict[str, str]:
    if location in ("json", "body"):
        return {"pointer": json_pointer(path), "detail": detail}
    return {"parameter": ".".join(path) or location, "detail": detail}


def _from_http_exception(error: HTTPException) -> Problem:
    slug = problem_type_for_status(error.code or 500).slug
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    errors: list[dict[str, str]] = []
    if isinstance(messages, Mapping):
        for location, location_messages in messages.items():
            errors.extend(field_errors(location_messages, location))
    if slug == "internal-error":
        detail = "The service failed to handle the request; it has been logged."
    elif errors:
        detail = "; ".join(f"{e.get('pointer') or e.get('parameter')}: {e['detail']}" for e in errors)
    else:
        detail = error.description or PROBLEM_TYPES[slug].title
    headers.update(data.get("headers") or {})
    return Problem(slug, detail, errors=errors, headers=headers)


def register_problem_handlers(app: Flask) -> None:
    """Make every error, including the framework's own 404/405/415 and crashes, a problem."""

    @app.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        return problem_response(problem)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        # Flask has already logged an unhandled exception before turning it into a 500.
        return problem_response(_from_http_exception(error))
