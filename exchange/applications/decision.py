"""The decision on an application: every rule of the matter evaluated with what it read, the
priorities granted, each department's part of a bundled matter, and the overall outcome.

Outcomes, from best to worst: eligible, needs_review, not_eligible. A false rule gives its
`outcome_if_false`; a rule that cannot be evaluated gives needs_review (the error is kept in
the provenance, and `error_zh` says in Chinese which proof's data was missing). Anything a
caseworker must still look at (an open investigation, a refused pull) keeps an otherwise eligible
application at needs_review. A proof the source holds no record of is the source's true answer:
a rule that needs its data cannot be evaluated (needs_review), one that allows its absence
(`has()`) reads it as absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from catalog.model import Matter, Outcome, Rule
from exchange.applications.evaluation import Binding, Evaluation


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


def decide(matter: Matter, binding: Binding, notes: Sequence[str]) -> dict[str, Any]:
    """The decision document: outcome, rules with provenance, priorities, services, notes."""
    rules = {rule.code: _rule_result(rule, binding.evaluate(rule.expression)) for rule in matter.rules}
    priorities = []
    for priority in matter.priorities:
        evaluation = binding.evaluate(priority.expression)
        priorities.append({"code": priority.code, "name_zh": priority.name_zh, "granted": evaluation.result is True,
                           "error": evaluation.error, "error_zh": evaluation.error_zh, "reads": list(evaluation.reads)})
    services = [
        {"code": service.code, "name_zh": service.name_zh, "department": service.department,
         "outcome": worst(Decision(rules[code]["effect"]) for code in service.rules).value}
        for service in matter.services
    ]
    outcome = worst(Decision(result["effect"]) for result in rules.values())
    if notes and outcome is Decision.ELIGIBLE:
        outcome = Decision.NEEDS_REVIEW
    return {"outcome": outcome.value, "outcome_zh": outcome.label_zh, "rules": list(rules.values()),
            "priorities": priorities, "services": services, "notes": list(notes)}


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
