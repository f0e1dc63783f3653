"""What a CEL expression of the catalog reads, checked against what its context provides.

An expression reads plain access paths: `name.key` for a map its context binds (a proof's
fields, `city`, `application`, `record` ...) and, inside a macro over `members`,
`m.<proof>.<field>` for one member. `Names` describes what one kind of expression may read;
`read_problems` parses an expression and reports everything it reads that is not provided;
`expression_reads` lists what it reads. Which names each kind of expression gets is decided
in `catalog.rules`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import celpy
from lark import Token, Tree

_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_THROUGH_MACRO = "read members through a macro, e.g. members.all(m, m.<proof>.<field> ...)"

# What the first name of an access path is:
_FREE = "free"  # a name of the context (a proof, `members`, `city` ...)
_MEMBER = "member"  # a macro variable over `members`: one member
_VARIABLE = "variable"  # another macro variable (e.g. over the elements of a list field)
_INDEXED = "indexed"  # `members[...]` (the path is just `members`)


@dataclass(frozen=True)
class Names:
    """What one kind of expression may read.

    `maps`: each top-level name and its keys (None: the keys are not checked);
    `unknown`: what the message for any other name says may be read;
    `member_maps`: the maps each member of `members` holds (None: `members` is not bound);
    `unreadable`: names that exist but may not be read here, with the reason;
    `data_items`: every data item of a proof map, to tell a field the matter does not receive
    (data minimisation) from one the proof does not have;
    `key_kinds`: what a map's keys are called in messages (`city constant`, `option`; else `field`).
    """

    maps: Mapping[str, Collection[str] | None]
    unknown: str
    member_maps: Mapping[str, Collection[str]] | None = None
    unreadable: Mapping[str, str] = field(default_factory=dict)
    data_items: Mapping[str, Collection[str]] = field(default_factory=dict)
    key_kinds: Mapping[str, str] = field(default_factory=dict)


def read_problems(expression: str, names: Names) -> list[str]:
    """`does not parse at line L, column C`, or one message per thing `expression` reads that
    `names` does not provide (each once, in order)."""
    try:
        tree = celpy.Environment().compile(expression)
    except celpy.CELParseError as error:
        where = f" at line {error.line}, column {error.column}" if error.line else ""
        return [f"does not parse{where}"]
    return list(dict.fromkeys(_Checker(names).problems(tree)))


@lru_cache(maxsize=1024)
def expression_reads(expression: str) -> frozenset[tuple[str, str]]:
    """(name, key) for every `name.key` that `expression` reads: a proof (its code in lower
    case, also when read per member as `m.<proof>.<field>`), `application`, `city`, `committed`
    or `record`, and the field, option or constant. celpy.CELParseError if it does not parse.
    Cached: handlers ask for the same catalog expressions on every application."""
    pairs = set()
    for kind, chain in _accesses(celpy.Environment().compile(expression), members=True):
        path = chain if kind == _FREE else chain[1:] if kind == _MEMBER else ()
        if len(path) > 1 and path[0] != "members":
            pairs.add((path[0], path[1]))
    return frozenset(pairs)


class _Checker:
    """Reports every access path of a parsed expression that the context does not provide."""

    def __init__(self, names: Names) -> None:
        self.names = names

    def problems(self, tree: Tree) -> Iterator[str]:
        names = self.names
        for kind, chain in _accesses(tree, members=names.member_maps is not None):
            if kind == _INDEXED:
                yield _THROUGH_MACRO
            elif kind == _MEMBER and len(chain) > 1 and names.member_maps is not None:
                proof, *fields = chain[1:]
                if proof in names.member_maps:
                    yield from self._key(proof, fields, names.member_maps)
                else:
                    yield f"members have no proof {proof} (scope each_member)"
            elif kind == _FREE:
                yield from self._free(*chain)

    def _free(self, head: str, *rest: str) -> Iterator[str]:
        names = self.names
        if head in names.unreadable:
            yield names.unreadable[head]
        elif head == "members" and names.member_maps is not None:
            if rest:
                yield _THROUGH_MACRO
        elif names.member_maps is not None and head in names.member_maps:
            yield f"{head} is read per member: members.all(m, m.{head}.<field> ...)"
        elif head not in names.maps:
            yield f"unknown name {head!r}: {names.unknown}"
        else:
            yield from self._key(head, list(rest), names.maps)

    def _key(self, name: str, path: list[str], maps: Mapping[str, Collection[str] | None]) -> Iterator[str]:
        """Problems reading `name.path` where `name` is one of `maps`."""
        keys = maps[name]
        if keys is None or not path or path[0] in keys:
            return
        if path[0] in self.names.data_items.get(name, ()):
            yield f"{name}.{path[0]} is not among the fields this matter receives (data minimisation)"
        else:
            yield f"unknown {self.names.key_kinds.get(name, 'field')} {name}.{path[0]}"


def _accesses(
    tree: Tree, *, members: bool, bound: Mapping[str, str] | None = None
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every plain access path in `tree` with what its first name is (_FREE, _MEMBER,
    _VARIABLE, or _INDEXED for `members[...]`). `members`: whether `members` is the household
    list, whose macro variables stand for one member; `bound` maps macro variables to their kind."""
    bound = bound or {}
    chain = _chain(tree)
    if chain is not None:
        yield bound.get(chain[0], _FREE), chain
        return
    if tree.data == "member_index" and _is_members(tree.children[0], members, bound):
        yield _INDEXED, ("members",)
        yield from _accesses(tree.children[1], members=members, bound=bound)
        return
    if tree.data == "member_dot_arg":
        target, method, arguments = tree.children
        yield from _accesses(target, members=members, bound=bound)
        if arguments is None:
            return
        variable = _chain(arguments.children[0])
        if str(method) in _MACROS and variable is not None and len(variable) == 1 and len(arguments.children) == 2:
            kind = _MEMBER if _is_members(target, members, bound) else _VARIABLE
            yield from _accesses(arguments.children[1], members=members, bound={**bound, variable[0]: kind})
        else:
            yield from _accesses(arguments, members=members, bound=bound)
        return
    for child in tree.children:
        if isinstance(child, Tree):
            yield from _accesses(child, members=members, bound=bound)


def _is_members(tree: Any, members: bool, bound: Mapping[str, str]) -> bool:
    """Whether `tree` is the household list `members` itself (not a macro variable so named)."""
    return members and _chain(tree) == ("members",) and "members" not in bound


def _chain(tree: Any) -> tuple[str, ...] | None:
    """The names of a plain access path `a.b.c` in any wrapping node, else None."""
    while isinstance(tree, Tree) and len(tree.children) == 1 and isinstance(tree.children[0], Tree):
        tree = tree.children[0]
    if not isinstance(tree, Tree):
        return None
    if tree.data in ("ident", "dot_ident") and isinstance(tree.children[0], Token):
        return (str(tree.children[0]),)
    if tree.data == "member_dot":
        base = _chain(tree.children[0])
        return None if base is None else (*base, str(tree.children[1]))
    return None
