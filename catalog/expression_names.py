"""What a CEL expression of the catalog reads, checked against what its context provides.

An expression reads plain access paths: `name.key` for a map its context binds (a proof's
fields, `city`, `application`, `record` ...) and, inside a macro over `members`,
`m.<proof>.<field>` for one member, or `m.id_number`, the member's own ID number. `Names` describes what one kind of expression may read;
`read_problems` parses an expression and reports everything it reads that is not provided;
`expression_reads` lists what it reads. Which names each kind of expression gets is decided
in `catalog.rules`; the syntax tree comes from `catalog.cel_syntax`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import celpy.evaluation

from catalog.cel_syntax import CelSyntaxError, FunctionCall, Index, MethodCall, Node, Other, Path, parse

_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_FUNCTIONS = frozenset({name for name in celpy.evaluation.base_functions if name.isidentifier()} | {"has"})
"""The functions celpy evaluates (`size`, `int`, `double`, `startsWith` ...) and the `has` macro:
a call of anything else is an error at evaluation, which would decide every application."""
_THROUGH_MACRO = "read members through a macro, e.g. members.all(m, m.<proof>.<field> ...)"
IDENTITY_KEY = "id_number"
"""What a member's map (`m.id_number`) and `applicant` hold besides proofs: the person's ID number."""

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
        tree = parse(expression)
    except CelSyntaxError as error:
        where = f" at line {error.line}, column {error.column}" if error.line else ""
        return [f"does not parse{where}"]
    return list(dict.fromkeys([*_Checker(names).problems(tree), *_call_problems(tree)]))


def _call_problems(node: Node) -> Iterator[str]:
    """A message for each call of a function or method CEL (celpy) does not have."""
    if isinstance(node, FunctionCall):
        if node.function not in _FUNCTIONS:
            yield f"unknown function {node.function}()"
        children: tuple[Node, ...] = node.arguments
    elif isinstance(node, MethodCall):
        if node.method not in _FUNCTIONS | _MACROS:
            yield f"unknown method .{node.method}()"
        children = (node.target, *(node.arguments or ()))
    elif isinstance(node, Index):
        children = (node.target, node.index)
    elif isinstance(node, Other):
        children = node.parts
    else:
        children = ()
    for child in children:
        yield from _call_problems(child)


@lru_cache(maxsize=1024)
def expression_reads(expression: str) -> frozenset[tuple[str, str]]:
    """(name, key) for every `name.key` that `expression` reads: a proof (its code in lower
    case, also when read per member as `m.<proof>.<field>`), `application`, `city`, `committed`
    or `record`, and the field, option or constant. CelSyntaxError if it does not parse.
    Cached: handlers ask for the same catalog expressions on every application."""
    pairs = set()
    for kind, chain in _accesses(parse(expression), members=True):
        path = chain if kind == _FREE else chain[1:] if kind == _MEMBER else ()
        if len(path) > 1 and path[0] != "members":
            pairs.add((path[0], path[1]))
    return frozenset(pairs)


class _Checker:
    """Reports every access path of a parsed expression that the context does not provide."""

    def __init__(self, names: Names) -> None:
        self.names = names

    def problems(self, tree: Node) -> Iterator[str]:
        names = self.names
        for kind, chain in _accesses(tree, members=names.member_maps is not None):
            if kind == _INDEXED:
                yield _THROUGH_MACRO
            elif kind == _MEMBER and len(chain) > 1 and names.member_maps is not None:
                proof, *fields = chain[1:]
                if proof == IDENTITY_KEY and not fields:
                    continue
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
    node: Node, *, members: bool, bound: Mapping[str, str] | None = None
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every plain access path in `node` with what its first name is (_FREE, _MEMBER,
    _VARIABLE, or _INDEXED for `members[...]`). `members`: whether `members` is the household
    list, whose macro variables stand for one member; `bound` maps macro variables to their kind."""
    bound = bound or {}
    if isinstance(node, Path):
        yield bound.get(node.names[0], _FREE), node.names
    elif isinstance(node, Index):
        if _is_members(node.target, members, bound):
            yield _INDEXED, ("members",)
        else:
            yield from _accesses(node.target, members=members, bound=bound)
        yield from _accesses(node.index, members=members, bound=bound)
    elif isinstance(node, MethodCall):
        yield from _accesses(node.target, members=members, bound=bound)
        arguments = node.arguments or ()
        variable = arguments[0] if arguments else None
        if node.method in _MACROS and isinstance(variable, Path) and len(variable.names) == 1 and len(arguments) == 2:
            kind = _MEMBER if _is_members(node.target, members, bound) else _VARIABLE
            yield from _accesses(arguments[1], members=members, bound={**bound, variable.names[0]: kind})
        else:
            for argument in arguments:
                yield from _accesses(argument, members=members, bound=bound)
    elif isinstance(node, FunctionCall):
        for argument in node.arguments:
            yield from _accesses(argument, members=members, bound=bound)
    elif isinstance(node, Other):
        for part in node.parts:
            yield from _accesses(part, members=members, bound=bound)


def _is_members(node: Node, members: bool, bound: Mapping[str, str]) -> bool:
    """Whether `node` is the household list `members` itself (not a macro variable so named)."""
    return members and node == Path(("members",)) and "members" not in bound
