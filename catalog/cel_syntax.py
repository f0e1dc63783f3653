"""The syntax of a CEL expression, as far as the catalog's checks need it.

celpy parses CEL with lark and has no public syntax tree: its parse tree's rule names
(`member_dot`, `member_dot_arg`, `member_index`, `ident` ...) are internals of its grammar.
This module is the one place that reads them; it turns celpy's parse tree into the few node
kinds below, and tests/catalog/test_cel_syntax.py pins what it makes of each construct, so a
celpy release that changes its grammar fails there, not in the rules' checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import celpy
from lark import Token, Tree


@dataclass(frozen=True)
class Path:
    """A plain access path `a.b.c` (a single name is a path of one)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Index:
    """`target[index]`."""

    target: Node
    index: Node


@dataclass(frozen=True)
class MethodCall:
    """`target.method(arguments...)`, macros (`all`, `exists`, `map` ...) included; `arguments`
    is None for `target.method()`."""

    target: Node
    method: str
    arguments: tuple[Node, ...] | None


@dataclass(frozen=True)
class FunctionCall:
    """`function(arguments...)`: `size(members)`, `double(x)`, `has(m.disability)` ..."""

    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Other:
    """Any other construct (operators, literals ...), with its sub-expressions."""

    parts: tuple[Node, ...]


Node = Union[Path, Index, MethodCall, FunctionCall, Other]


class CelSyntaxError(ValueError):
    """The expression does not parse; `line` and `column` say where (None when unknown)."""

    def __init__(self, line: int | None, column: int | None) -> None:
        super().__init__(f"does not parse at line {line}, column {column}")
        self.line = line
        self.column = column


def parse(expression: str) -> Node:
    """The syntax tree of `expression`; CelSyntaxError if it does not parse."""
    try:
        tree = celpy.Environment().compile(expression)
    except celpy.CELParseError as error:
        raise CelSyntaxError(error.line or None, error.column or None) from error
    return _node(tree)


def _node(tree: Tree) -> Node:
    while len(tree.children) == 1 and isinstance(tree.children[0], Tree):  # grammar levels
        tree = tree.children[0]
    path = _path(tree)
    if path is not None:
        return Path(path)
    if tree.data == "member_index":
        return Index(_node(tree.children[0]), _node(tree.children[1]))
    if tree.data == "ident_arg":  # no argument list at all for `f()`
        name, *rest = tree.children
        return FunctionCall(str(name), tuple(_node(a) for a in rest[0].children) if rest else ())
    if tree.data == "member_dot_arg":
        target, method, *rest = tree.children  # no argument list at all for `x.f()`
        arguments = rest[0] if rest else None
        return MethodCall(
            _node(target), str(method), None if arguments is None else tuple(_node(a) for a in arguments.children)
        )
    return Other(tuple(_node(child) for child in tree.children if isinstance(child, Tree)))


def _path(tree: Any) -> tuple[str, ...] | None:
    """The names of a plain access path `a.b.c` in any wrapping node, else None."""
    while isinstance(tree, Tree) and len(tree.children) == 1 and isinstance(tree.children[0], Tree):
        tree = tree.children[0]
    if not isinstance(tree, Tree):
        return None
    if tree.data in ("ident", "dot_ident") and isinstance(tree.children[0], Token):
        return (str(tree.children[0]),)
    if tree.data == "member_dot":
        base = _path(tree.children[0])
        return None if base is None else (*base, str(tree.children[1]))
    return None
