"""JSON from untrusted hands, read with limits checked before the parser runs.

Python's `json` recurses once per nested array or object: a document nested a few thousand
levels deep exhausts the interpreter's recursion limit (`RecursionError`), and every layer
that walks the parsed value afterwards (schemas, canonical JSON) recurses again. `loads` first
measures the nesting depth of the text with two linear regular-expression passes (strings
removed, then everything but brackets) and refuses anything deeper than `MAX_DEPTH` or longer
than the caller's `max_chars` with `JsonTooComplex`, a `ValueError`, so callers that already
refuse malformed JSON refuse these too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
"""Deeper than anything mianzheng exchanges (a catalog document nests 6 levels)."""

_STRINGS = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
"""A JSON string; an unterminated one runs to the end, so the pass stays linear."""


class JsonTooComplex(ValueError):
    """The JSON text is longer or nested deeper than allowed; the message says which."""


def nesting_depth(text: str, limit: int = MAX_DEPTH, *, strings: re.Pattern[str] = _STRINGS,
                  opening: str = "[{", closing: str = "]}") -> int:
    """The deepest nesting of brackets (JSON's arrays and objects by default) in `text`, outside
    the `strings` literals, counted up to `limit` + 1."""
    brackets = re.sub(f"[^{re.escape(opening + closing)}]++", "", strings.sub("", text))
    depth = deepest = 0
    for bracket in brackets:
        if bracket in opening:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


def loads(
    data: str | bytes,
    *,
    max_chars: int | None = None,
    max_depth: int = MAX_DEPTH,
    decoder: json.JSONDecoder | None = None,
) -> Any:
    """`json.loads` after the limits: `JsonTooComplex` for too long or too deep a text,
    `ValueError` (JSONDecodeError, UnicodeDecodeError) for text that is not JSON. `decoder`: one
    made once with the caller's hooks (`json.loads` with a hook builds a new one per call)."""
    if max_chars is not None and len(data) > max_chars:
        raise JsonTooComplex(f"the JSON text is longer than {max_chars} characters")
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    # no deeper than its opening brackets are many: most texts need no measuring
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text, max_depth) > max_depth:
        raise JsonTooComplex(f"the JSON text is nested more than {max_depth} levels deep")
    return json.loads(text) if decoder is None else decoder.decode(text)


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise ValueError(f"duplicate JSON member {name!r}")
        members[name] = value
    return members


NO_DUPLICATES = json.JSONDecoder(object_pairs_hook=_without_duplicates)
"""A `loads` decoder refusing an object that names a member twice (ValueError): readers
disagree on which of the two counts, so a signed text or a request meaning two things to two
readers is refused rather than read one way."""


_UNUSABLE = re.compile(r"[\x00\ud800-\udfff]")
UNUSABLE_DETAIL = "must not contain NUL characters or unpaired UTF-16 surrogates"


def has_unusable_text(text: str) -> bool:
    """Whether `text` holds what no database stores as text: a NUL, or a lone UTF-16 surrogate
    (valid as a JSON escape, not encodable as UTF-8)."""
    return _UNUSABLE.search(text) is not None


def unusable_json_strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths of the JSON value's members whose key or string value is unusable."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, path)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, str):
            if has_unusable_text(node):
                yield at
        elif isinstance(node, dict):
            for key, child in node.items():
                if has_unusable_text(key):
                    yield at
                else:
                    stack.append((child, (*at, key)))
        elif isinstance(node, list):
            stack.extend((child, (*at, str(index))) for index, child in enumerate(node))
