"""The CEL expressions of the catalog: what each kind may read, checking them, compiling them.

- A matter's rules and priorities read (see docs/catalog.md, "Expressions"):
  `<proof>.<field>` for a proof of scope applicant, child, deceased or employer (one subject
  each), `<proof>` being the proof code in lower case; `members`, only in a household matter:
  a list of maps, one per member, each holding the matter's `each_member` proofs as
  `<proof>.<field>` and the member's `id_number`, read through a macro such as
  `members.all(m, m.no_housing.has_registered_property == false)`; `application.<option>`,
  the matter's options; `applicant.id_number`, the applicant's ID number; `city.<constant>`,
  the catalog's city section; `today`, the city's date as `YYYY-MM-DD` (how date items read).
- A proof's `when` in a matter reads `application`, `applicant`, `city`, `today`, and the
  one-subject proofs listed before it in the same matter (so conditions never form cycles);
  never `members`.
- A proof's verification reads `committed.<data item>` of the committed proof,
  `record.<data item>` of the verification proof, `city` and `today`.

Proofs are read only through the fields the matter receives (data minimisation). The
`*_problems` functions check schema-valid entries and yield (field path, message);
`compile_expression` prepares an expression for evaluation, which is the matter handlers'
business, and `expression_reads` lists what an expression reads.

celpy's evaluator module is pointed at builtin generics in place of `typing`'s aliases, which
its no-op casts subscript on every node (see `_AnyUnion`).

Expressions are bounded twice. Before any is parsed, `expression_limit_problem` (the catalog
schema's validator) refuses one longer than `MAX_EXPRESSION_CHARS`, nested deeper than
`MAX_EXPRESSION_DEPTH` brackets or made of more than `MAX_EXPRESSION_TOKENS` tokens, so parsing
and checking stay cheap. Evaluation then has a budget of `EVALUATION_STEPS` steps (syntax-tree
nodes visited, macro bodies included): a comprehension nested in comprehensions stops with
`EvaluationBudgetExceeded` instead of holding a worker.
"""

from __future__ import annotations

import collections.abc
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import celpy
import celpy.evaluation
import lark
from celpy import InterpretedRunner
from celpy.evaluation import Activation, Context, Evaluator

from catalog.bounded_json import nesting_depth
from catalog.expression_names import IDENTITY_KEY, Names, expression_reads, read_problems
from catalog.model import Rule, Scope

__all__ = [
    "DataItems",
    "EvaluationBudgetExceeded",
    "compile_expression",
    "compile_rule",
    "condition_problems",
    "expression_limit_problem",
    "expression_reads",
    "rule_problems",
    "verification_problems",
]

APPLICANT_NAME = "applicant"
"""The applicant, as matter expressions name them: `applicant.id_number`."""
_KEY_KINDS = {"city": "city constant", "application": "option"}

DataItems = Mapping[str, Collection[str]]
"""Each valid proof's code and its data item names."""


MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_DEPTH = 16
MAX_EXPRESSION_TOKENS = 400
EVALUATION_STEPS = 20_000
"""The bundled catalog's largest expression has 30 tokens, 3 levels and takes about 200 steps
for a household of 20."""

_CEL_STRINGS = re.compile(r""""(?:[^"\\\n]++|\\.)*+"?|'(?:[^'\\\n]++|\\.)*+'?""")
"""A CEL string literal (an unterminated one runs to the end of the line)."""
_TOKENS = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|[0-9]+(?:\.[0-9]+)?|\S")


def expression_limit_problem(expression: str) -> str | None:
    """What makes `expression` too big to parse, or None; checked without parsing it."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        return f"must have at most {MAX_EXPRESSION_CHARS} characters"
    if nesting_depth(expression, MAX_EXPRESSION_DEPTH, strings=_CEL_STRINGS, opening="([{",
                     closing=")]}") > MAX_EXPRESSION_DEPTH:
        return f"must not nest brackets more than {MAX_EXPRESSION_DEPTH} levels deep"
    if len(_TOKENS.findall(_CEL_STRINGS.sub('""', expression))) > MAX_EXPRESSION_TOKENS:
        return f"must have at most {MAX_EXPRESSION_TOKENS} tokens"
    return None


class _AnyUnion:
    """`Union[...]` as a no-op `cast` needs it: subscripted, it gives `object`."""

    def __getitem__(self, _arguments: object) -> type:
        return object


celpy.evaluation.__dict__.update(Dict=dict, List=list, Tuple=tuple, Iterable=collections.abc.Iterable,
                                 Sequence=collections.abc.Sequence, Union=_AnyUnion())
"""celpy 0.5's evaluator calls `cast(Tuple[List[Result], Result], ...)` and the like on every
syntax-tree node it visits. `cast` does nothing, but subscripting `typing`'s aliases hashes their
arguments each time (typing's cache): about a third of rule evaluation. The evaluator's module
gets the builtin generics instead, which subscript at next to no cost and answer `isinstance`
the same (celpy tests `isinstance(functions, Sequence)`); its `Union` is used only in casts. The
module's type aliases were built when it was imported and are unchanged."""


class EvaluationBudgetExceeded(Exception):
    """An evaluation took more than `EVALUATION_STEPS` steps. Not a `celpy.CELEvalError`: CEL
    turns those into values that `||`, `&&` and macros carry on with, so it would not stop."""


class _Budget:
    """The evaluation steps one evaluation may still take."""

    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise EvaluationBudgetExceeded(f"the expression needs more than {EVALUATION_STEPS} evaluation steps")


class _QuietActivation(Activation):
    """celpy's activation with a short repr. celpy writes the activation into the message of every
    undeclared reference, and `false && absent.field` makes one that `&&` then drops: writing out
    every value bound cost more than the rest of such an evaluation. The messages kept never
    show the activation anyway (the application handlers strip it)."""

    def __repr__(self) -> str:
        return "…"


class _BudgetedEvaluator(Evaluator):
    """celpy's evaluator, spending one step of a shared budget per syntax-tree node."""

    def __init__(self, ast: lark.Tree, activation: Activation, budget: _Budget) -> None:
        super().__init__(ast, activation)
        self.budget = budget

    def set_activation(self, values: Context) -> Evaluator:
        super().set_activation(values)
        self.activation.__class__ = _QuietActivation  # the same object, named briefly
        return self

    def sub_evaluator(self, ast: lark.Tree) -> Evaluator:
        return _BudgetedEvaluator(ast, self.activation, self.budget)

    def visit_children(self, tree: lark.Tree) -> list[Any]:
        self.budget.spend()
        return super().visit_children(tree)


class _BudgetedRunner(InterpretedRunner):
    """celpy's interpreter with a budget per evaluation. Its base activation (the environment's
    type annotations) is made once: every evaluation binds its values on a copy of it."""

    def __init__(self, environment: celpy.Environment, ast: lark.Tree, functions: Any = None) -> None:
        super().__init__(environment, ast, functions)
        self._base = self.new_activation()

    def evaluate(self, context: Context) -> celpy.celtypes.Value:
        return _BudgetedEvaluator(self.ast, self._base, _Budget(EVALUATION_STEPS)).evaluate(context)


def compile_expression(expression: str) -> celpy.Runner:
    """`expression` compiled by celpy; evaluate it with an activation of CEL values, within
    `EVALUATION_STEPS` (`EvaluationBudgetExceeded` past them)."""
    environment = celpy.Environment(runner_class=_BudgetedRunner)
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
        if not scope.one_subject and scope is not Scope.EACH_MEMBER
    }
    names = Names(
        maps={**_context(matter, city), **_single_subject(proofs)},
        unknown="not a proof of this matter, members, application, city or today",
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
            if not scope.one_subject:
                unreadable[name] = f"conditions cannot read {name}: its scope is {scope}"
            elif name == order[position]:
                unreadable[name] = f"a condition cannot read its own proof {name}"
            elif name not in earlier:
                unreadable[name] = f"{name} is listed after this proof: a condition reads only proofs listed before it"
        names = Names(
            maps={**_context(matter, city), **_single_subject(earlier)},
            unknown="not a proof of this matter, application, city or today",
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
            "today": (),
        },
        unknown="not committed, record, city or today",
        key_kinds=_KEY_KINDS,
    )
    for message in read_problems(expression, names):
        yield "verification.expression", message


def _proof_maps(matter: Mapping[str, Any]) -> dict[str, tuple[Scope, tuple[str, ...]]]:
    """Each proof of the matter by its name in expressions (the code in lower case): its scope
    and the fields the matter receives, in the matter's order."""
    return {entry["proof"].lower(): (Scope(entry["scope"]), tuple(entry["fields"])) for entry in matter["proofs"]}


def _single_subject(proofs: Mapping[str, tuple[Scope, tuple[str, ...]]]) -> dict[str, Collection[str] | None]:
    return {name: fields for name, (scope, fields) in proofs.items() if scope.one_subject}


def _context(matter: Mapping[str, Any], city: Collection[str] | None) -> dict[str, Collection[str] | None]:
    """The maps every matter expression may read: the applicant's options, the applicant's own
    ID number (`applicant.id_number`, to find the applicant in a record: a parent on a birth
    certificate), the city and today."""
    return {"application": [option["name"] for option in matter.get("options", [])], "city": city, "today": (),
            APPLICANT_NAME: (IDENTITY_KEY,)}


def _lower(data_items: DataItems) -> dict[str, Collection[str]]:
    return {code.lower(): items for code, items in data_items.items()}
