"""An expression that reads a proof the application does not hold fails with an error that names
that proof and nothing else: the error is kept in the decision and in an item's clear-text
detail, so it must not carry the values of the binding (personal data such as an income or a
spouse's ID number)."""

from __future__ import annotations

from datetime import datetime, timezone

from catalog.loading import bundled_catalog_path, load_catalog
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
