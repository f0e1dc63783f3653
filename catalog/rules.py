"""The CEL expressions of the catalog: what each kind may read, checking them, compiling them.

- A matter's rules and priorities read (see docs/catalog.md, "Expressions"):
  `<proof>.<field>` for a proof of scope applicant, child, deceased or employer (one subject
  each), `<proof>` being the proof code in lower case; `members`, only in a household matter:
  a list of maps, one per member, each holding the matter's `each_member` proofs as
  `<proof>.<field>`, read through a macro such as
  `members.all(m, m.no_housing.has_registered_property == false)`; `application.<option>`,
  the matter's options; `city.<constant>`, the catalog's city section.
- A proof's `when` in a matter reads `application`, `city`, and the one-subject proofs listed
  before it in the same matter (so conditions never form cycles); never `members`.
- A proof's verification reads `committed.<data item>` of the committed proof,
  `record.<data item>` of the verification proof, and `city`.

Proofs are read only through the fields the matter receives (data minimisation). The
`*_problems` functions check schema-valid entries and yield (field path, message);
`compile_expression` prepares an expression for evaluation, which is the matter handlers'
business, and `expression_reads` lists what an expression reads.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import celpy

from catalog.expression_names import Names, expression_reads, read_problems
from catalog.model import Rule, Scope

__all__ = [
    "DataItems",
    "compile_expression",
    "compile_rule",
    "condition_problems",
    "expression_reads",
    "rule_problems",
    "verification_problems",
]

_SINGLE_SUBJECT = (Scope.APPLICANT, Scope.CHILD, Scope.DECEASED, Scope.EMPLOYER)
_KEY_KINDS = {"city": "city constant", "application": "option"}

DataItems = Mapping[str, Collection[str]]
"""Each valid proof's code and its data item names."""


def compile_expression(expression: str) -> celpy.Runner:
    """`expression` compiled by celpy; evaluate it with an activation of CEL values."""
    environment = celpy.Environment()
    return environment.program(environment.compile(expression))


def compile_rule(rule: Rule) -> celpy.Runner:
    """The rule's expression compiled by celpy (see `compile_expression`)."""
    return compile_expression(rule.expression)


def rule_problems(
    matter: Mapping[str, Any], data_items: DataItems, city: Collection[str] | None
) -> Iterator[tuple[str, str]]:
    """(field path, message) for every problem in the rules and priorities of a schema-valid
    matter. `city` holds the names of the city constants (None: unknown, not checked)."""
    proofs = _proof_maps(matter)
    unreadable = {
        name: f"{name} cannot be read: its scope is {scope}"
        for name, (scope, _) in proofs.items()
        if scope not in _SINGLE_SUBJECT and scope is not Scope.EACH_MEMBER
    }
    names = Names(
        maps={**_context(matter, city), **_single_subject(proofs)},
        unknown="not a proof of this matter, members, application or city",
        member_maps={name: fields for name, (scope, fields) in proofs.items() if scope is Scope.EACH_MEMBER}
        if matter["household"]
        else None,
        unreadable=unreadable,
        data_items=_lower(data_items),
        key_kinds=_KEY_KINDS,
    )
    for key in ("rules", "priorities"):
        for entry in matter.get(key, []):
            for message in read_problems(entry["expression"], names):
                yield f"{key}[{entry['code']}].expression", message


def condition_problems(
    matter: Mapping[str, Any], data_items: DataItems, city: Collection[str] | None
) -> Iterator[tuple[str, str]]:
    """(field path, message) for every problem in the `when` conditions of a schema-valid matter."""
    proofs = _proof_maps(matter)
    order = list(proofs)
    for position, entry in enumerate(matter["proofs"]):
        if "when" not in entry:
            continue
        earlier = {name: proofs[name] for name in order[:position]}
        unreadable = {"members": "conditions cannot read members"}
        for name, (scope, _) in proofs.items():
            if scope not in _SINGLE_SUBJECT:
                unreadable[name] = f"conditions cannot read {name}: its scope is {scope}"
            elif name == order[position]:
                unreadable[name] = f"a condition cannot read its own proof {name}"
            elif name not in earlier:
                unreadable[name] = f"{name} is listed after this proof: a condition reads only proofs listed before it"
        names = Names(
            maps={**_context(matter, city), **_single_subject(earlier)},
            unknown="not a proof of this matter, application or city",
            unreadable=unreadable,
            data_items=_lower(data_items),
            key_kinds=_KEY_KINDS,
        )
        for message in read_problems(entry["when"], names):
            yield f"proofs[{entry['proof']}].when", message


def verification_problems(
    proof: Mapping[str, Any], data_items: DataItems, city: Collection[str] | None
) -> Iterator[tuple[str, str]]:
    """(field path, message) for the verification expression of a schema-valid proof whose
    verification proof exists; the record's fields are not checked if that proof is invalid."""
    expression = proof["verification"].get("expression")
    if expression is None:
        return
    names = Names(
        maps={
            "committed": data_items.get(proof["code"]),
            "record": data_items.get(proof["verification"]["proof"]),
            "city": city,
        },
        unknown="not committed, record or city",
        key_kinds=_KEY_KINDS,
    )
    for message in read_problems(expression, names):
        yield "verification.expression", message


def _proof_maps(matter: Mapping[str, Any]) -> dict[str, tuple[Scope, tuple[str, ...]]]:
    """Each proof of the matter by its name in expressions (the code in lower case): its scope
    and the fields the matter receives, in the matter's order."""
    return {entry["proof"].lower(): (Scope(entry["scope"]), tuple(entry["fields"])) for entry in matter["proofs"]}


def _single_subject(proofs: Mapping[str, tuple[Scope, tuple[str, ...]]]) -> dict[str, Collection[str] | None]:
    return {name: fields for name, (scope, fields) in proofs.items() if scope in _SINGLE_SUBJECT}


def _context(matter: Mapping[str, Any], city: Collection[str] | None) -> dict[str, Collection[str] | None]:
    """The maps every matter expression may read: the applicant's options and the city."""
    return {"application": [option["name"] for option in matter.get("options", [])], "city": city}


def _lower(data_items: DataItems) -> dict[str, Collection[str]]:
    return {code.lower(): items for code, items in data_items.items()}
