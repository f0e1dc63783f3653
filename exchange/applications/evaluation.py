"""Evaluating a matter's CEL expressions (rules, priorities, `when` conditions, commitment
verifications) over what an application has resolved, with the values each one read.

The binding is the catalog's (docs/catalog.md, "Expressions"): `<proof>.<field>` for a
single-subject proof, `members` for the household (applicant first, each with its `id_number`),
`application.<option>`, `applicant.id_number`, `city.<constant>` and `today`, the city's date (`YYYY-MM-DD`, as date items read). A proof that is not resolved is absent from the binding; reading it is
an evaluation error, which the caller turns into its own outcome. A proof the exchange holds no
answer for (`Unanswered`: refused, or under investigation) makes every expression reading it
undecided, `has()` included: its absence is not the source's "no record". Decimal data items are read
as doubles (CEL does not compare int with double).
"""

from __future__ import annotations

import re

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import celpy

from catalog.city_time import BEIJING
from catalog.model import Catalog, ItemType, Matter, Proof, Scope
from catalog.expression_names import IDENTITY_KEY, expression_reads
from catalog.rules import APPLICANT_NAME, EvaluationBudgetExceeded, compile_expression
from exchange.applications.parties import APPLICANT



@dataclass(frozen=True)
class Known:
    """One resolved proof of one party: its values and where they came from."""

    proof: str
    party: str
    party_label: str
    values: Mapping[str, Any]
    source: Mapping[str, Any]


@dataclass(frozen=True)
class Unanswered:
    """A proof of one party the exchange holds no answer for: the pull was refused, or a department
    is still investigating. Its absence from the binding says nothing (unlike a source's 'no
    record'), so an expression reading that proof is undecided."""

    proof: str
    party: str
    party_label: str
    why_zh: str


REFUSED_ZH = "交换平台未予调取"
"""`Unanswered.why_zh` of a pull the exchange refused (policy or consent)."""


@dataclass(frozen=True)
class Evaluation:
    """The result of one expression: True/False, or None with the error; and what it read."""

    result: bool | None
    error: str | None = None
    reads: Sequence[dict[str, Any]] = field(default_factory=tuple)
    error_zh: str | None = None
    """The error as a caseworker reads it: which proof's data is missing, in Chinese."""


class Binding:
    """The CEL activation of one application's current knowledge."""

    def __init__(self, catalog: Catalog, matter: Matter, household: Mapping[str, str], known: Sequence[Known],
                 options: Mapping[str, Any], now: datetime, unanswered: Sequence[Unanswered] = (),
                 identities: Mapping[str, str | None] = MappingProxyType({})) -> None:
        """`household`: each member's party ref and how a caseworker sees them (name, masked ID
        number), in the household's order; `identities`: each member's ID number by party ref
        (`applicant.id_number`, `m.id_number`; null where not given)."""
        self.catalog = catalog
        self.matter = matter
        self.household = dict(household)
        self.known = tuple(known)
        self.unanswered = tuple(unanswered)
        scopes = {entry.proof: entry.scope for entry in matter.proofs}
        order = list(household)
        top: dict[str, Any] = {"application": {**matter.option_defaults(), **options}, "city": catalog.city_values(),
                               "today": city_date(now), APPLICANT_NAME: {IDENTITY_KEY: identities.get(APPLICANT)}}
        members: list[dict[str, Any]] = [{IDENTITY_KEY: identities.get(ref)} for ref in household]
        for fact in self.known:
            scope = scopes.get(fact.proof)
            if scope is None:  # a publication since the filing dropped the proof from the matter, and its rules
                continue
            values = cel_values(catalog.proofs[fact.proof], fact.values)
            if scope is Scope.EACH_MEMBER:
                members[order.index(fact.party)][fact.proof.lower()] = values
            elif scope.one_subject:
                top[fact.proof.lower()] = values
        if matter.household:
            top["members"] = members
        self.activation = {name: celpy.json_to_cel(value) for name, value in top.items()}

    def evaluate(self, expression: str) -> Evaluation:
        reads = self._reads(expression)
        names = {name for name, _ in expression_reads(expression)}
        unanswered = [entry for entry in self.unanswered if entry.proof.lower() in names]
        if unanswered:
            return Evaluation(None, "no answer for " + ", ".join(f"{u.proof} of {u.party}" for u in unanswered), reads,
                              self._unanswered_zh(unanswered))
        try:
            result = _program(expression).evaluate(self.activation)
        except (celpy.CELEvalError, EvaluationBudgetExceeded) as error:
            message = _message(error)
            return Evaluation(None, message, reads, self._error_zh(message, names))
        if isinstance(result, celpy.celtypes.BoolType):
            return Evaluation(bool(result), None, reads)
        return Evaluation(None, f"the expression gave {type(result).__name__}, not a boolean", reads,
                          UNDECIDABLE_ZH)

    def _error_zh(self, message: str, names: Collection[str]) -> str:
        """`message` for a caseworker: the proof whose data the expression needed and did not have
        (not held: the source had no record of that person, or it is not in yet), and, for a
        proof of each member, the members it is missing for. When celpy's message names none (an
        operator over two errors names neither), the first proof the expression reads that is not
        held."""
        missing = _MISSING.search(message)
        proof = self.catalog.proofs.get(missing.group(1).upper()) if missing else None
        if proof is None:
            proof = next((self.catalog.proofs[entry.proof] for entry in self.matter.proofs
                          if entry.proof.lower() in names and entry.scope.one_subject
                          and entry.proof.lower() not in self.activation), None)
        if proof is None:
            return UNDECIDABLE_ZH
        each_member = any(entry.proof == proof.code and entry.scope is Scope.EACH_MEMBER for entry in self.matter.proofs)
        lacking = [label for ref, label in self.household.items() if each_member
                   and not any(fact.proof == proof.code and fact.party == ref for fact in self.known)]
        whose = f"{'、'.join(lacking)}的" if lacking else ""
        return f"缺少{whose}“{proof.name_zh}”的数据（来源部门无此人记录，或尚未取得），无法判断，请人工审核"

    def _unanswered_zh(self, unanswered: Sequence[Unanswered]) -> str:
        named = "；".join(f"{entry.party_label}的“{self._proof_name(entry.proof)}”（{entry.why_zh}）" for entry in unanswered)
        return f"未取得{named}的数据，无法判断，请人工审核"

    def _proof_name(self, code: str) -> str:
        proof = self.catalog.proofs.get(code)
        return proof.name_zh if proof else code

    def _reads(self, expression: str) -> tuple[dict[str, Any], ...]:
        """Each proof field the expression reads, once per party that has it, with its source."""
        reads: list[dict[str, Any]] = []
        for name, item in sorted(expression_reads(expression)):
            for fact in self.known:
                if fact.proof.lower() == name and item in fact.values:
                    reads.append({"proof": fact.proof, "field": item, "party": fact.party, "party_label": fact.party_label,
                                  "value": fact.values[item], "source": dict(fact.source)})
            if name in ("application", "city"):
                value = self.activation[name].get(celpy.celtypes.StringType(item))
                reads.append({"proof": None, "field": f"{name}.{item}", "party": None, "party_label": None,
                              "value": _plain(value), "source": {"kind": name}})
        return tuple(reads)


def cel_values(proof: Proof, values: Mapping[str, Any]) -> dict[str, Any]:
    """A proof's JSON values as CEL reads them: decimals as doubles, everything else as is."""
    decimals = {item.name for item in proof.data_items if item.type is ItemType.DECIMAL}
    return {name: float(value) if name in decimals and value is not None else value for name, value in values.items()}


def city_date(now: datetime) -> str:
    """`today` in expressions: the city's date at `now`, written as date items are (`YYYY-MM-DD`),
    so `m.disability.valid_until >= today` compares dates."""
    return now.astimezone(BEIJING).date().isoformat()


def evaluate_verification(catalog: Catalog, expression: str, committed: Mapping[str, Any], record: Mapping[str, Any],
                          committed_proof: Proof, record_proof: Proof, now: datetime) -> Evaluation:
    """A commitment verification: `committed.<field>` against the source's `record.<field>`,
    with `city.<constant>` and `today`."""
    activation = {"committed": celpy.json_to_cel(cel_values(committed_proof, committed)),
                  "record": celpy.json_to_cel(cel_values(record_proof, record)),
                  "city": celpy.json_to_cel(catalog.city_values()),
                  "today": celpy.json_to_cel(city_date(now))}
    try:
        result = _program(expression).evaluate(activation)
    except (celpy.CELEvalError, EvaluationBudgetExceeded) as error:
        return Evaluation(None, _message(error))
    return Evaluation(bool(result), None) if isinstance(result, celpy.celtypes.BoolType) else \
        Evaluation(None, "the expression did not give a boolean")


UNDECIDABLE_ZH = "规则无法判断（所需数据缺失或类型不符），请人工审核"
_MISSING = re.compile(r"(?:no such member in mapping: |undeclared reference to )'([a-z0-9_]+)'")
"""celpy's messages for a name the activation lacks (a member's proof; a proof of one subject):
here, a proof the application does not hold."""


@lru_cache(maxsize=512)
def _program(expression: str) -> celpy.Runner:
    return compile_expression(expression)


def _message(error: Exception) -> str:
    """The error's message without the activation celpy appends to an undeclared reference: that
    holds every value of the binding, and the message is kept (in a decision, in an item's detail)."""
    message = str(error.args[0]) if error.args else str(error)
    return message.split(" (in activation ", 1)[0]


def _plain(value: Any) -> Any:
    if isinstance(value, celpy.celtypes.BoolType):
        return bool(value)
    if isinstance(value, (celpy.celtypes.DoubleType, celpy.celtypes.IntType)):
        return float(value) if isinstance(value, celpy.celtypes.DoubleType) else int(value)
    if isinstance(value, celpy.celtypes.StringType):
        return str(value)
    return None if value is None else str(value)
