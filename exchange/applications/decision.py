"""The decision on an application: every rule of the matter evaluated with what it read, the
priorities granted, each department's part of a bundled matter, and the overall outcome.

Outcomes, from best to worst: eligible, needs_review, not_eligible. A false rule gives its
`outcome_if_false`; a rule that cannot be evaluated gives needs_review (the error is kept in
the provenance, and `error_zh` says in Chinese which proof's data was missing). Anything a
caseworker must still look at (an open investigation, a refused pull) keeps an otherwise eligible
application at needs_review. A proof the source holds no record of is the source's true answer:
a rule that needs its data cannot be evaluated (needs_review), one that allows its absence
(`has()`) reads it as absent; a proof of one subject (not each member's) no rule or priority
reads at all, that the source holds no record of, is left to a caseworker (needs_review, with a
note naming it and whose it is).

Nothing decides an application eligible that no rule has looked at: a matter whose catalog entry
has no rules is decided needs_review (the data is gathered, a caseworker decides), and so is each
department's part of a bundle that names no rule. A department's part is decided by its rules
and by the rules no part names (they bear on every part: the applicant is the child's parent),
and is kept at needs_review by a note as the whole application is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from catalog.expression_names import expression_reads
from catalog.model import Matter, Outcome, Rule, Scope
from exchange.applications.evaluation import Binding, Evaluation

NO_RULES_ZH = "本事项未设可由数据判断的条件，请人工审核"
"""The note on an application of a matter with no rules."""
MATTER_DROPPED_ZH = "本事项已从目录中取消，未能自动判断；已取得的数据见各项材料，请人工处理"
"""The note on an application whose matter a later publication dropped."""


class Decision(StrEnum):
    ELIGIBLE = "eligible"
    NEEDS_REVIEW = "needs_review"
    NOT_ELIGIBLE = "not_eligible"

    @property
    def label_zh(self) -> str:
        return {"eligible": "符合条件", "needs_review": "需人工审核", "not_eligible": "不符合条件"}[self.value]


_RANK = {Decision.ELIGIBLE: 0, Decision.NEEDS_REVIEW: 1, Decision.NOT_ELIGIBLE: 2}


def worst(decisions: Iterable[Decision]) -> Decision:
    return max(decisions, key=_RANK.__getitem__, default=Decision.ELIGIBLE)


def decide(matter: Matter, binding: Binding, notes: Sequence[str],
           no_record: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """The decision document: outcome, rules with provenance, priorities, services, notes.
    `no_record`: (proof code, whose it is as a caseworker reads it) of each proof the sources hold
    no record of; one no rule or priority reads becomes a note."""
    notes = [*notes, *_unread_absences(binding, matter, no_record)]
    if not matter.rules:
        notes.append(NO_RULES_ZH)
    rules = {rule.code: _rule_result(rule, binding.evaluate(rule.expression)) for rule in matter.rules}
    priorities = []
    for priority in matter.priorities:
        evaluation = binding.evaluate(priority.expression)
        priorities.append({"code": priority.code, "name_zh": priority.name_zh, "granted": evaluation.result is True,
                           "error": evaluation.error, "error_zh": evaluation.error_zh, "reads": list(evaluation.reads)})
    assigned = {code for service in matter.services for code in service.rules}
    shared = [code for code in rules if code not in assigned]  # they bear on every part
    services = [
        {"code": service.code, "name_zh": service.name_zh, "department": service.department,
         "outcome": (_reviewed(worst(Decision(rules[code]["effect"]) for code in (*service.rules, *shared)), notes)
                     if service.rules else Decision.NEEDS_REVIEW).value}
        for service in matter.services
    ]
    outcome = _reviewed(worst(Decision(result["effect"]) for result in rules.values()), notes)
    return {"outcome": outcome.value, "outcome_zh": outcome.label_zh, "rules": list(rules.values()),
            "priorities": priorities, "services": services, "notes": list(notes)}


def _reviewed(outcome: Decision, notes: Sequence[str]) -> Decision:
    """`outcome`, but needs_review instead of eligible while there is a note for a caseworker."""
    return Decision.NEEDS_REVIEW if notes and outcome is Decision.ELIGIBLE else outcome


def matter_dropped() -> dict[str, Any]:
    """The decision on an application whose matter the catalog no longer has: needs_review, no
    rule evaluated, a note saying why."""
    outcome = Decision.NEEDS_REVIEW
    return {"outcome": outcome.value, "outcome_zh": outcome.label_zh, "rules": [], "priorities": [], "services": [],
            "notes": [MATTER_DROPPED_ZH]}


def _unread_absences(binding: Binding, matter: Matter, no_record: Iterable[tuple[str, str]]) -> list[str]:
    """A note for each proof of one subject of `matter` (the applicant's, the child's, the
    deceased's: not each member's, whose absence is the usual answer for a child or someone out of
    work; not one a later catalog dropped) the sources hold no record of and no rule or priority
    reads."""
    read = {name for entry in (*matter.rules, *matter.priorities) for name, _ in expression_reads(entry.expression)}
    asked = {entry.proof for entry in matter.proofs if entry.scope is not Scope.EACH_MEMBER}
    return [f"{whose}的“{binding.catalog.proofs[proof].name_zh}”：来源部门无此记录，本事项的条件未据此判断，请人工核实"
            for proof, whose in no_record if proof in asked and proof.lower() not in read]


def _rule_result(rule: Rule, evaluation: Evaluation) -> dict[str, Any]:
    if evaluation.result is True:
        effect = Decision.ELIGIBLE
    elif evaluation.result is False:
        effect = Decision.NOT_ELIGIBLE if rule.outcome_if_false is Outcome.NOT_ELIGIBLE else Decision.NEEDS_REVIEW
    else:
        effect = Decision.NEEDS_REVIEW
    return {"code": rule.code, "name_zh": rule.name_zh, "expression": rule.expression, "result": evaluation.result,
            "error": evaluation.error, "error_zh": evaluation.error_zh, "effect": effect.value,
            "reads": list(evaluation.reads)}
