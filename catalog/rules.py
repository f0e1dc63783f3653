"""Eligibility rules of a matter: CEL expressions over the fields the matter receives.

A rule reads these names (see docs/catalog.md, "Eligibility rules"):

- `<proof>.<field>` for a proof of scope applicant, child, deceased or employer (one subject
  each), `<proof>` being the proof code in lower case;
- `members`, only in a household matter: a list of maps, one per member, each holding the
  matter's `each_member` proofs as `<proof>.<field>`; read it through a macro such as
  `members.all(m, m.no_housing.has_registered_property == false)`;
- `city.<constant>` from `catalog.city.CITY_CONSTANTS`.

`rule_problems` checks that each expression parses and reads only those names, and only
fields listed in the matter's `fields` (data minimisation). `compile_rule` prepares a rule for
evaluation; evaluating it is the matter handlers' business.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import celpy
from lark import Token, Tree

from catalog.city import CITY_CONSTANTS
from catalog.model import Rule, Scope

_SINGLE_SUBJECT = (Scope.APPLICANT, Scope.CHILD, Scope.DECEASED, Scope.EMPLOYER)
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_MEMBER = "a member of members"  # what a macro variable over `members` stands for
_THROUGH_MACRO = "read members through a macro, e.g. members.all(m, m.<proof>.<field> ...)"


def compile_rule(rule: Rule) -> celpy.Runner:
    """The rule's expression compiled by celpy; evaluate it with an activation of CEL values."""
    environment = celpy.Environment()
    return environment.program(environment.compile(rule.expression))


def rule_problems(
    matter: Mapping[str, Any], data_items: Mapping[str, Collection[str]]
) -> Iterator[tuple[str, str]]:
    """(field path, message) for every problem in the rules of a schema-valid matter.

    `data_items` maps each valid proof's code to its data item names, to tell a field the
    matter does not receive from one the proof does not have.
    """
    names = _Names(matter, data_items)
    for rule in matter.get("rules", []):
        path = f"rules[{rule['code']}].expression"
        try:
            tree = celpy.Environment().compile(rule["expression"])
        except celpy.CELParseError as error:
            where = f" at line {error.line}, column {error.column}" if error.line else ""
            yield path, f"does not parse{where}"
            continue
        for message in dict.fromkeys(_Reader(names).problems(tree)):
            yield path, message


class _Names:
    """What a matter's rules may read: top-level proof maps, member proof maps, constants."""

    def __init__(self, matter: Mapping[str, Any], data_items: Mapping[str, Collection[str]]) -> None:
        self.proof_items = {code.lower(): items for code, items in data_items.items()}
        self.top: dict[str, tuple[str, ...]] = {"city": tuple(CITY_CONSTANTS)}
        self.member: dict[str, tuple[str, ...]] = {}
        self.unreadable: dict[str, str] = {}
        for entry in matter["proofs"]:
            name, scope = entry["proof"].lower(), Scope(entry["scope"])
            if scope in _SINGLE_SUBJECT:
                self.top[name] = tuple(entry["fields"])
            elif scope is Scope.EACH_MEMBER:
                self.member[name] = tuple(entry["fields"])
            else:
                self.unreadable[name] = f"rules cannot read {name}: its scope is {scope}"
        self.household = bool(matter["household"])


class _Reader:
    """Walks a parsed CEL expression and reports every name the matter does not provide."""

    def __init__(self, names: _Names) -> None:
        self.names = names

    def problems(self, tree: Tree, bound: Mapping[str, str | None] | None = None) -> Iterator[str]:
        """Problems in `tree`; `bound` maps macro variables to what they stand for."""
        bound = bound or {}
        chain = _chain(tree)
        if chain is not None:
            yield from self._check(chain, bound)
            return
        if tree.data == "member_index" and _chain(tree.children[0]) == ("members",):
            yield _THROUGH_MACRO
            yield from self.problems(tree.children[1], bound)
            return
        if tree.data == "member_dot_arg":
            target, method, arguments = tree.children
            yield from self.problems(target, bound)
            yield from self._arguments(target, str(method), arguments, bound)
            return
        for child in tree.children:
            if isinstance(child, Tree):
                yield from self.problems(child, bound)

    def _arguments(
        self, target: Tree, method: str, arguments: Tree | None, bound: Mapping[str, str | None]
    ) -> Iterator[str]:
        """The arguments of `target.method(...)`; a macro's first argument names a variable."""
        if arguments is None:
            return
        variable = _chain(arguments.children[0])
        if method in _MACROS and variable is not None and len(variable) == 1 and len(arguments.children) == 2:
            stands_for = _MEMBER if _chain(target) == ("members",) and "members" not in bound else None
            yield from self.problems(arguments.children[1], {**bound, variable[0]: stands_for})
            return
        yield from self.problems(arguments, bound)

    def _check(self, chain: tuple[str, ...], bound: Mapping[str, str | None]) -> Iterator[str]:
        head, *rest = chain
        if head in bound:
            if bound[head] == _MEMBER and rest:
                proof, *fields = rest
                if proof in self.names.member:
                    yield from self._field(proof, fields, self.names.member)
                else:
                    yield f"members have no proof {proof} (scope each_member)"
            return
        if head == "members" and self.names.household:
            if rest:
                yield _THROUGH_MACRO
            return
        if head in self.names.unreadable:
            yield self.names.unreadable[head]
        elif head in self.names.member:
            yield f"{head} is read per member: members.all(m, m.{head}.<field> ...)"
        elif head not in self.names.top:
            yield f"unknown name {head!r}: not a proof of this matter, members or city"
        else:
            yield from self._field(head, rest, self.names.top)

    def _field(self, proof: str, path: list[str], proofs: Mapping[str, tuple[str, ...]]) -> Iterator[str]:
        """Problems reading `proof.path` where `proof` is one of `proofs` (or `city`)."""
        if not path or path[0] in proofs[proof]:
            return
        if path[0] in self.names.proof_items.get(proof, ()):
            yield f"{proof}.{path[0]} is not among the fields this matter receives (data minimisation)"
        else:
            yield f"unknown {'city constant' if proof == 'city' else 'field'} {proof}.{path[0]}"


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
