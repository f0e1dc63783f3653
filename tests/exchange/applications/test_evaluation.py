"""An expression that reads a proof the application does not hold fails with an error that names
that proof and nothing else: the error is kept in the decision and in an item's clear-text
detail, so it must not carry the values of the binding (personal data such as an income or a
spouse's ID number)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Service
from exchange.applications.decision import NO_RULES_ZH, decide
from exchange.applications.evaluation import Binding, Known

CATALOG = load_catalog(bundled_catalog_path())
HOUSING = CATALOG.matters["PUBLIC_RENTAL_HOUSING"]
SPOUSE_ID = "110105198001010035"
HOUSEHOLD = {"applicant": "王芳（110105********0026）", "member:1": "李明（110105********0035）"}


def _binding(*proofs: str) -> Binding:
    source = {"kind": "data"}
    known = {
        "INCOME": Known("INCOME", "applicant", "申请人", {"family_size": 2, "annual_household_income": "29628.00",
                                                          "per_capita_monthly_income": "1234.50"}, source),
        "MARITAL_STATUS": Known("MARITAL_STATUS", "applicant", "申请人",
                                {"marital_status": "married", "spouse_id_number": SPOUSE_ID}, source),
    }
    return Binding(CATALOG, HOUSING, HOUSEHOLD, [known[proof] for proof in proofs],
                   {"priority_allocation": True}, datetime.now(timezone.utc))


def test_reading_a_proof_not_held_names_it_and_no_value() -> None:
    """The single declaration's condition when the marriage record could not be had."""
    condition = HOUSING.entry("SINGLE_DECLARATION").when
    assert condition is not None
    evaluation = _binding("INCOME").evaluate(condition)
    assert evaluation.result is None and evaluation.error is not None
    assert "marital_status" in evaluation.error
    assert "1234.5" not in evaluation.error and "29628" not in evaluation.error
    assert len(evaluation.error) < 200


def test_the_binding_still_evaluates_what_it_holds() -> None:
    rule = next(r for r in HOUSING.rules if r.code == "income_below_line")
    assert _binding("INCOME", "MARITAL_STATUS").evaluate(rule.expression).result is True


def test_a_rule_that_cannot_be_decided_says_in_chinese_which_proof_is_missing() -> None:
    """The caseworker reads why: a member's 无房证明 the source had no record of, not celpy's
    English 'no such member in mapping'."""
    rule = next(r for r in HOUSING.rules if r.code == "no_property")
    found = Known("NO_HOUSING", "applicant", "申请人", {"has_registered_property": False, "property_count": 0,
                                                        "searched_at": "2026-11-01T02:00:00+08:00"}, {"kind": "data"})
    binding = Binding(CATALOG, HOUSING, HOUSEHOLD, [found], {}, datetime.now(timezone.utc))  # member:1 not found at the source
    evaluation = binding.evaluate(rule.expression)
    assert evaluation.result is None and evaluation.error is not None
    assert evaluation.error_zh is not None and "无房证明" in evaluation.error_zh
    assert "李明（110105********0035）的" in evaluation.error_zh and "王芳" not in evaluation.error_zh  # whose record is missing
    assert all(ord(character) < 0x80 or "\u4e00" <= character <= "\u9fff" or character in "“”（），：、"
               for character in evaluation.error_zh)


def test_a_missing_proof_of_one_subject_is_named_too() -> None:
    """The child's 出生医学证明 the source had no record of (a child born today): the caseworker
    reads which proof to ask for, as for a member's."""
    newborn = CATALOG.matters["NEWBORN_BIRTH"]
    rule = next(r for r in newborn.rules if "birth_medical" in r.expression)
    evaluation = Binding(CATALOG, newborn, {"applicant": "王芳（110105********0026）"}, [], {},
                         datetime.now(timezone.utc)).evaluate(rule.expression)
    assert evaluation.result is None
    assert evaluation.error_zh is not None and "“出生医学证明”" in evaluation.error_zh, evaluation.error_zh


def test_a_matter_without_rules_is_never_decided_eligible() -> None:
    """身后一件事 has no rules: everything pulled, a caseworker decides. So does a department's part
    of a bundle that names no rule."""
    post_death = CATALOG.matters["POST_DEATH"]
    assert not post_death.rules
    decision = decide(post_death, Binding(CATALOG, post_death, {"applicant": "王芳（110105********0026）"}, [], {},
                                          datetime.now(timezone.utc)), [])
    assert decision["outcome"] == "needs_review"
    assert decision["notes"] == [NO_RULES_ZH]

    newborn = CATALOG.matters["NEWBORN_BIRTH"]
    bundle = replace(newborn, services=(*newborn.services, Service(code="pension_notice", name_zh="养老告知",
                                                                   department="RS", rules=())))
    parts = decide(bundle, Binding(CATALOG, bundle, {"applicant": "王芳（110105********0026）"}, [], {},
                                   datetime.now(timezone.utc)), [])["services"]
    assert next(part for part in parts if part["code"] == "pension_notice")["outcome"] == "needs_review"


def test_a_proof_with_no_record_that_no_rule_reads_is_left_to_a_caseworker() -> None:
    """The sources hold no 死亡医学证明 of the person named deceased (alive, in fact): nothing
    reads it, so the caseworker is told, by name, rather than the application going through."""
    post_death = CATALOG.matters["POST_DEATH"]
    binding = Binding(CATALOG, post_death, {"applicant": "王芳（110105********0026）"}, [], {}, datetime.now(timezone.utc))
    decision = decide(post_death, binding, [], [("DEATH_MEDICAL", "刘某（330703********8351）")])
    assert decision["outcome"] == "needs_review"
    death = CATALOG.proofs["DEATH_MEDICAL"].name_zh
    assert any(f"刘某（330703********8351）的“{death}”" in note for note in decision["notes"]), decision["notes"]
    housing = _binding("INCOME", "MARITAL_STATUS")  # the 公租房 rules read the 无房证明: they decide, no note
    assert not decide(HOUSING, housing, [], [("NO_HOUSING", "李明（110105********0035）")])["notes"]
