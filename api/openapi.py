"""The OpenAPI document and request parsing, both driven by the marshmallow schemas.

`Blueprint` is flask-smorest's blueprint with a request parser that answers a body of the
wrong media type with 415, a body nested too deeply (`catalog.bounded_json`, measured before it
is parsed) or holding text nothing can store (`api.request_limits`) with 400, and a failed
validation with 400 invalid-request; `ApiSpec` documents every error response as
application/problem+json.

The paths of the document are worked out when it is first read (`ApiSpec.spec`), not when a
blueprint is registered: resolving every schema of every operation is most of the cost of
building the app, and most processes that build one (each server worker, each command) never
serve the document.
"""

from __future__ import annotations

import functools
import http
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

import flask_smorest
from flask import current_app, request
import marshmallow as ma
from flask_smorest.spec import prepare_response
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from api.addresses import API_PREFIX
from api.problems import PROBLEM_MEDIA_TYPE, Problem
from api.request_limits import refuse_unusable_json
from catalog import bounded_json

View = TypeVar("View", bound=Callable[..., Any])
RETRY_STATUSES = (409, 429, 502, 503)
RETRY_AFTER_HEADER = {"description": "Seconds to wait before asking again, when the answer can change (a request "
                                     "still being answered, a source or the database unavailable, a rate limit); "
                                     "absent when it cannot", "schema": {"type": "integer", "minimum": 0}}

LOCATION_HEADER = {"description": "Where the resource made (or found again) is read from", "schema": {"type": "string"}}
COUNTED_AT_HEADER = {"description": "When the figures were counted (HTTP date, UTC): about once a minute, so they "
                                    "are at most about two minutes old", "schema": {"type": "string"}}
REPLAYED_HEADER = {"description": "`true` when the answer is the one stored for this request id, repeated without "
                                  "pulling again; absent on a first answer", "schema": {"type": "string", "enum": ["true"]}}


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as documented in the OpenAPI document."""

    type = ma.fields.String(metadata={"description": "Stable URI reference of the problem type"})
    title = ma.fields.String()
    title_zh = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    instance = ma.fields.String()
    errors = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "Field errors: {pointer, detail} for the body, {parameter, detail} otherwise"},
    )
    detail_zh = ma.fields.String(metadata={"description": "What the citizen is told, in Chinese (not-printable, "
                                                          "fact-not-established, a department's faulty consent link)"})
    alternative = ma.fields.Dict(allow_none=True, metadata={
        "description": "fact-not-established: the neutral proof that can be issued instead ({code, name_zh}), or null"})


class RequestParser(FlaskParser):
    """Parses request arguments; a JSON body must be sent as JSON. A view's schema class is
    instantiated once, not for every request: a schema's `load` keeps no state between calls."""

    DEFAULT_VALIDATION_STATUS = 400

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _schema_instance(argmap)
        return super()._get_schema(argmap, req)

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        if req.get_data(cache=True) and not core.is_json(req.mimetype):
            raise Problem(
                "unsupported-media-type",
                f"Send the body as application/json, not {req.mimetype or 'an unnamed type'}.",
            )
        if not is_json_request(req):
            return core.missing
        try:
            body = bounded_json.loads(req.get_data(cache=True), decoder=bounded_json.NO_DUPLICATES)
        except bounded_json.JsonTooComplex as refused:
            raise Problem("invalid-request", str(refused), errors=[{"pointer": "#", "detail": str(refused)}]) from None
        except ValueError as malformed:  # not JSON, or not UTF-8
            detail = f"The body is not valid JSON: {malformed}"
            raise Problem("invalid-request", detail, errors=[{"pointer": "#", "detail": detail}]) from None
        refuse_unusable_json(body)
        return body


@functools.cache
def _schema_instance(schema: type[ma.Schema]) -> ma.Schema:
    return schema()


def before_parsing(check: Callable[[], object]) -> Callable[[View], View]:
    """Decorate a view (between `@blp.route` and `@blp.arguments`) so that `check` runs before
    its arguments are parsed: authentication and rate limits come before input validation, the
    query's names (`_refuse_a_query_it_does_not_take`) included."""
    def decorate(view: View) -> View:
        @functools.wraps(view)  # keeps flask-smorest's documentation attributes
        def checked(*args: Any, **kwargs: Any) -> Any:
            check()
            _refuse_a_query_it_does_not_take()
            return view(*args, **kwargs)
        setattr(checked, _CHECKS_FIRST, True)  # read by the blueprint's hook, on the view registered
        return cast(View, checked)
    return decorate


_CHECKS_FIRST = "_mianzheng_checks_first"
"""Set on a view whose `before_parsing` check judges the caller before its query is judged."""


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with `RequestParser`; a request with a query string to an
    operation that takes no query parameters is refused (400 naming them), never served as if
    the filter had been applied, and so is a single-valued parameter given twice (which value
    would count is the client's guess)."""

    ARGUMENTS_PARSER = RequestParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_request(_refuse_a_query_unless_checked_first)

    def register_views_in_doc(self, api: Any, app: Any, spec: Any, *, name: str, parameters: Any) -> None:
        document = functools.partial(super().register_views_in_doc, api, app, spec, name=name, parameters=parameters)
        if isinstance(api, ApiSpec):
            api.document_later(document)
        else:
            document()


def _refuse_a_query_unless_checked_first() -> None:
    """The blueprint's hook: a view that judges its caller first (`before_parsing`) judges the
    query after it, so that a caller without credentials is told 401, whatever the query."""
    if not getattr(current_app.view_functions.get(request.endpoint or ""), _CHECKS_FIRST, False):
        _refuse_a_query_it_does_not_take()


def _refuse_a_query_it_does_not_take() -> None:
    if not request.args or not request.path.startswith(API_PREFIX):  # probes (/healthz) ignore theirs
        return
    view = current_app.view_functions.get(request.endpoint or "")
    arguments = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    queries = [argument["schema"] for argument in arguments if argument.get("in") == "query"]
    if not queries:
        refused = {name: "Unknown parameter: this operation takes no query parameters." for name in request.args}
    else:  # its schema refuses a name it does not have (unknown=RAISE); a value given twice is refused here
        fields = {name: field for schema in queries for name, field in _schema_instance(schema).fields.items()}
        refused = {name: "Given more than once: this parameter takes one value." for name in request.args
                   if len(request.args.getlist(name)) > 1 and not isinstance(fields.get(name), ma.fields.List)}
    if refused:
        raise Problem("invalid-request", "; ".join(f"{name}: {detail}" for name, detail in refused.items()),
                      errors=[{"parameter": name, "detail": detail} for name, detail in refused.items()])


class ApiSpec(flask_smorest.Api):
    """flask-smorest's Api with problem+json error responses in the document."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app: Any = None, **options: Any) -> None:
        self._undocumented: list[Callable[[], None]] = []
        self._documenting = threading.Lock()
        self._registering = False
        super().__init__(app, **options)

    @property  # type: ignore[override]
    def spec(self) -> Any:
        """The apispec document, its paths complete (flask-smorest reads it as this attribute)."""
        if self._undocumented and not self._registering:
            with self._documenting:
                while self._undocumented:
                    self._undocumented.pop(0)()
                self._list_unauthorized()
                self._list_not_found()
                self._describe_errors()
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def document_later(self, document: Callable[[], None]) -> None:
        """Add a blueprint's paths to the document when it is first read, in registration order."""
        self._undocumented.append(document)

    def register_blueprint(self, blp: Any, **options: Any) -> None:
        self._registering = True  # flask-smorest reads `spec` while registering: not the time to document
        try:
            super().register_blueprint(blp, **options)
        finally:
            self._registering = False

    def _list_unauthorized(self) -> None:
        """Every operation that needs credentials lists its 401 (`unauthenticated`): it is the
        answer to no credentials, whatever else the operation declares. (apispec keeps the paths
        in `_paths`; tests/api/test_openapi.py checks the document this produces.)"""
        for operations in self._spec._paths.values():
            for operation in operations.values():
                if isinstance(operation, dict) and operation.get("security") and "401" not in operation["responses"]:
                    operation["responses"]["401"] = self._spec.components.get_ref("response", "UNAUTHORIZED")

    def _list_not_found(self) -> None:
        """Every operation on a path with a parameter lists its 404 (`not-found`): the answer to a
        code, identifier or id that names nothing the caller may see."""
        for path, operations in self._spec._paths.items():
            for operation in operations.values():
                if "{" in path and isinstance(operation, dict) and "404" not in operation["responses"]:
                    operation["responses"]["404"] = self._spec.components.get_ref("response", "NOT_FOUND")

    def _describe_errors(self) -> None:
        """Every error an operation names by its status alone gets the problem document as its
        body, and those that say when to try again (409 conflict, 429, 502/503) their
        `Retry-After`: a client generated from the document reads what it branches on."""
        problem = {PROBLEM_MEDIA_TYPE: {"schema": self._spec.components.get_ref("schema", self.ERROR_SCHEMA.__name__
                                                                               .removesuffix("Schema"))}}
        for operations in self._spec._paths.values():
            for operation in operations.values():
                if not isinstance(operation, dict):
                    continue
                for status, response in operation.get("responses", {}).items():
                    if not str(status).isdigit() or int(status) < 400 or "$ref" in response:
                        continue
                    response.setdefault("content", problem)
                    if int(status) in RETRY_STATUSES:
                        response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER

    def _register_responses(self) -> None:
        # flask-smorest's one private hook here: it has no public setting for the media type of
        # error responses; tests/api/test_openapi.py checks the document this produces.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Error", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)
