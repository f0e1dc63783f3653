"""Limits every request passes before any view runs: a body within the size limit, and no
text that no part of mianzheng can store, sign or print.

A chunked body (no Content-Length) is cut at the app's MAX_CONTENT_LENGTH by Werkzeug without
an error, so the view would read a truncated body and call it malformed (400); a chunked body
that fills the limit is answered 413 here instead.

A NUL character cannot be stored in a PostgreSQL text column, and a lone UTF-16 surrogate
(`"\\ud800"` in JSON) cannot be encoded as UTF-8, so either would fail deep inside a request:
after a source department was queried, with a request id already claimed. Every string of a
request — path, query parameters, the form fields of a page and every key and value of a JSON body — is
checked first; the 400 invalid-request problem names the parameter or the JSON pointer. So is
the raw path and query: bytes that are no UTF-8 text, which would be read as U+FFFD.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.addresses import API_PREFIX
from api.problems import Problem, json_pointer
from catalog.bounded_json import UNUSABLE_DETAIL as DETAIL, has_unusable_text, unusable_json_strings

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_UTF8 = "must be UTF-8 text (percent-encoded bytes that are no UTF-8, such as %FF, are refused)"


def refuse_unusable_json(body: Any) -> None:
    """400 naming the first member of a JSON body that holds unusable text."""
    for path in unusable_json_strings(body):
        pointer = json_pointer(path)
        raise Problem("invalid-request", f"{pointer}: {DETAIL}", errors=[{"pointer": pointer, "detail": DETAIL}])


def _refuse_text_that_is_not_utf8() -> None:
    """Werkzeug reads bytes that are no UTF-8 (`%FF`, a surrogate written as UTF-8, a character
    cut short) as U+FFFD: a request for text the client never sent. Refused, naming the part."""
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""  # servers decode the path
    parts = [("path", unquote_to_bytes(raw_uri.partition("?")[0].encode("latin-1", "replace")))]
    for pair in request.query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        parts += [("parameter name", unquote_to_bytes(name.replace(b"+", b" "))),
                  (name.decode("utf-8", "replace"), unquote_to_bytes(value.replace(b"+", b" ")))]
    for shown, raw in parts:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:  # a parameter's name is checked before its value
            raise Problem("invalid-request", f"{shown}: {NOT_UTF8}",
                          errors=[{"parameter": shown, "detail": NOT_UTF8}]) from None


def _refuse_unusable_parameters() -> None:
    _refuse_text_that_is_not_utf8()
    parameters: Iterable[tuple[str, str]] = [("path", request.path), *request.args.items(multi=True)]
    if request.mimetype in FORM_TYPES and not request.path.startswith(API_PREFIX):  # the API takes JSON only
        try:
            parameters = [*parameters, *request.form.items(multi=True)]
        except RequestEntityTooLarge:
            return  # the view answers an oversized form in its own words
    for name, value in parameters:
        if has_unusable_text(name) or has_unusable_text(value):
            shown = name if not has_unusable_text(name) else "parameter name"
            raise Problem("invalid-request", f"{shown}: {DETAIL}", errors=[{"parameter": shown, "detail": DETAIL}])


def _refuse_oversized_chunked_body() -> None:
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(request.get_data(cache=True)) >= limit:
        raise RequestEntityTooLarge()


def register_request_limits(app: Flask) -> None:
    """Check the body size and the path, query and form of every request before its view."""
    app.before_request(_refuse_oversized_chunked_body)
    app.before_request(_refuse_unusable_parameters)
