"""What a field of a catalog entry must look like in a source file, beyond its Python type.

The catalog's dataclasses (`catalog.model`) are the one description of each entry: a field's type
says what it holds (text, flag, number, vocabulary, list, nested entry), its default whether a
source file may leave it out, and the `Shape` in its metadata what the type alone does not say (a
code pattern, a CEL expression, a range, a list that must not be empty). `catalog.schemas`
builds the validating schemas from them, and `catalog.documents` the document form.

A `str` field without a shape is Chinese or English text that must not be empty.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
SERVICE_CODE_PATTERN = r"^[0-9A-Z-]{10,20}$"
LICENSE_TYPE_CODE_PATTERN = r"^2[0-9]{3}$"


@dataclass(frozen=True)
class Shape:
    """What a field (for a list: each element, and the list itself) must look like."""

    pattern: str | None = None
    """A code's regular expression (for a list of codes: each code's)."""
    expression: bool = False
    """A CEL expression within `catalog.rules`' limits."""
    credit_code: bool = False
    """A unified social credit code (GB 32100), written in upper case without spaces."""
    fact_value: bool = False
    """true, false or a value code: the value a data item must have for a fact to hold."""
    minimum: int | None = None
    maximum: int | None = None
    range_error: str | None = None
    """The message when a number is out of range (may name {min} and {max})."""
    type_error: str | None = None
    """The message when the value is not of the field's type, if not the type's own."""
    at_least_one: str | None = None
    """A list that must not be empty: the message when it is."""
    rule_codes: bool = False
    """A list of the matter's rule codes, none listed twice."""


PLAIN = Shape()
SHAPE_KEY = "shape"


def shaped(shape: Shape, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with `shape` (and `default`: without one a source file must name it)."""
    return dataclasses.field(default=default, metadata={SHAPE_KEY: shape})


def code(default: Any = dataclasses.MISSING) -> Any:
    """An upper-case code (NO_HOUSING) or a reference to one."""
    return shaped(Shape(pattern=CODE_PATTERN), default)


def name(default: Any = dataclasses.MISSING) -> Any:
    """A lower-case name (a data item, rule, option, city constant) or a reference to one."""
    return shaped(Shape(pattern=NAME_PATTERN), default)


def expression(default: Any = dataclasses.MISSING) -> Any:
    """A CEL expression."""
    return shaped(Shape(expression=True), default)


def shape_of(field: dataclasses.Field[Any]) -> Shape:
    """The shape declared on a dataclass field (PLAIN when none is)."""
    shape: Shape = field.metadata.get(SHAPE_KEY, PLAIN)
    return shape
