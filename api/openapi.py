"""The OpenAPI document and request parsing, both driven by the marshmallow schemas.

`Blueprint` is flask-smorest's blueprint with a request parser that answers a body of the
wrong media type with 415, a body nested too deeply (`catalog.bounded_json`, measured before it
is parsed) or holding text nothing can store (`api.request_limits`) with 400, and a failed
validation with 400 invalid-request; `ApiSpec` documents every error response as
application/problem+json.
"""

from __future__ import annotations

import functools
import http
from collections.abc import Callable
from typing import Any, TypeVar, cast

import flask_smorest
import marshmallow as ma
from flask_smorest.spec import prepare_response
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from api.problems import PROBLEM_MEDIA_TYPE, Problem
from api.request_limits import refuse_unusable_json
from catalog import bounded_json

View = TypeVar("View", bound=Callable[..., Any])


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


class RequestParser(FlaskParser):
    """Parses request arguments; a JSON body must be sent as JSON."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        if req.get_data(cache=True) and not core.is_json(req.mimetype):
            raise Problem(
                "unsupported-media-type",
                f"Send the body as application/json, not {req.mimetype or 'an unnamed type'}.",
            )
        if not is_json_request(req):
            return core.missing
        try:
            body = bounded_json.loads(req.get_data(cache=True))
        except bounded_json.JsonTooComplex as refused:
            raise Problem("invalid-request", str(refused), errors=[{"pointer": "#", "detail": str(refused)}]) from None
        except ValueError as malformed:  # not JSON, or not UTF-8
            detail = f"The body is not valid JSON: {malformed}"
            raise Problem("invalid-request", detail, errors=[{"pointer": "#", "detail": detail}]) from None
        refuse_unusable_json(body)
        return body


def before_parsing(check: Callable[[], object]) -> Callable[[View], View]:
    """Decorate a view (between `@blp.route` and `@blp.arguments`) so that `check` runs before
    its arguments are parsed: authentication and rate limits come before input validation."""
    def decorate(view: View) -> View:
        @functools.wraps(view)  # keeps flask-smorest's documentation attributes
        def checked(*args: Any, **kwargs: Any) -> Any:
            check()
            return view(*args, **kwargs)
        return cast(View, checked)
    return decorate


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = RequestParser()


class ApiSpec(flask_smorest.Api):
    """flask-smorest's Api with problem+json error responses in the document."""

    ERROR_SCHEMA = ProblemSchema

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
