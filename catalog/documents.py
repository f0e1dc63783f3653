"""The JSON document form of the catalog's immutable dataclasses, derived from their declarations.

A dataclass is written as a mapping of its fields, in declaration order: enums by value, tuples
as lists, mappings as dicts, nested dataclasses the same way. A field left at its default (None,
False, an empty tuple or mapping, a default flag) is left out, so a document names only what is
said, and a field added later with a default leaves older documents, and their hashes, as they
were (`members_of` keeps them, for readers). `built` reads such a document back by the field types: it is the inverse of `document_of`
for a document already known to be valid (`catalog.schemas` checks one first).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from types import MappingProxyType
from typing import Any, TypeVar

Built = TypeVar("Built")


def document_of(value: Any) -> Any:
    """`value` as plain JSON-able data (see the module docstring)."""
    return _plain(value, defaults=False)


def members_of(value: Any) -> dict[str, Any]:
    """The dataclass `value` in its document form with the fields at their default too, at every
    level (what a reader of the catalog is shown: each member is there, null or empty when not set)."""
    plain: dict[str, Any] = _plain(value, defaults=True)
    return plain


def _plain(value: Any, *, defaults: bool) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        members = ((field, getattr(value, field.name)) for field in dataclasses.fields(value))
        return {field.name: _plain(member, defaults=defaults) for field, member in members
                if defaults or not _at_default(field, member)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_plain(member, defaults=defaults) for member in value]
    if isinstance(value, Mapping):
        return {key: _plain(member, defaults=defaults) for key, member in value.items()}
    return value


def built(kind: type[Built], document: Mapping[str, Any]) -> Built:
    """The dataclass `kind` read from its document form; members it does not name take their default."""
    hints = _hints(kind)
    return kind(**{name: _value(hints[name], member) for name, member in document.items()})


def _at_default(field: dataclasses.Field[Any], value: Any) -> bool:
    if field.default is not dataclasses.MISSING:
        return bool(value == field.default)
    if field.default_factory is not dataclasses.MISSING:
        return bool(value == field.default_factory())
    return False


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _value(hint: Any, value: Any) -> Any:
    """`value` of the document read as the type `hint` says."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        given = [argument for argument in arguments if argument is not type(None)]
        return _value(given[0], value) if len(given) == 1 else value
    if origin is tuple:
        return tuple(_value(arguments[0], member) for member in value)
    if origin is Mapping or hint is Mapping:
        return MappingProxyType({key: _value(arguments[1], member) for key, member in value.items()}
                                if arguments else dict(value))
    if dataclasses.is_dataclass(hint):
        return built(hint, value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is float:
        return float(value)
    return value
