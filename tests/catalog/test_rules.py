"""Eligibility rules in the catalog: the bundled rules validate and evaluate, and a rule that
does not parse or reads a name the matter does not provide is rejected with a precise message."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import pytest

from catalog.errors import CatalogInvalid
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog, Outcome
from catalog.rules import EvaluationBudgetExceeded, compile_expression, compile_rule, expression_limit_problem
from tests.catalog.test_loading import Sections, entry, write

BUNDLED = load_catalog(bundled_catalog_path())


@pytest.fixture
def sections() -> Sections:
    return copy.deepcopy(BUNDLED.to_document())


def rejected(tmp_path: Path, sections: Sections, matter: str, rule: dict[str, Any]) -> list[str]:
    """The problem lines when `rule` is added to `matter`'s rules."""
    entry(sections["matters"], matter).setdefault("rules", []).append(rule)
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog(write(tmp_path / "catalog", sections))
    return [str(problem) for problem in caught.value.problems]


def rule(expression: str, code: str = "extra", outcome: str = "not_eligible") -> dict[str, Any]:
    return {"code": code, "name_zh": "测试条件", "expression": expression, "outcome_if_false": outcome}


def test_bundled_rules_parse_validate_and_round_trip() -> None:
    housing = BUNDLED.matters["PUBLIC_RENTAL_HOUSING"]
    assert [r.code for r in housing.rules] == ["no_property", "income_below_line", "not_renting_public_housing",
                                               "spouse_in_household", "members_registered"]
    assert [r.code for r in BUNDLED.matters["MINIMUM_LIVING_APPLICATION"].rules][0] == "income_below_standard"
    assert BUNDLED.matters["BUSINESS_STARTUP"].rules[0].outcome_if_false is Outcome.NEEDS_REVIEW
    assert Catalog.from_document(BUNDLED.to_document()) == BUNDLED
    for matter in BUNDLED.matters.values():
        for bundled_rule in matter.rules:
            assert compile_rule(bundled_rule) is not None


@pytest.mark.parametrize(
    ("has_property", "expected"), [([False, False], True), ([False, True], False)], ids=["none", "one_owns"]
)
def test_a_bundled_rule_evaluates_against_members(has_property: list[bool], expected: bool) -> None:
    no_property = BUNDLED.matters["PUBLIC_RENTAL_HOUSING"].rules[0]
    members = [{"no_housing": {"has_registered_property": owns}} for owns in has_property]
    assert bool(compile_rule(no_property).evaluate({"members": celpy.json_to_cel(members)})) is expected


@pytest.mark.parametrize(("income", "expected"), [(1000.0, True), (1205.0, False)])
def test_income_rule_reads_the_city_constant(income: float, expected: bool) -> None:
    below = BUNDLED.matters["MINIMUM_LIVING_APPLICATION"].rules[0]
    activation = {
        "income": celpy.json_to_cel({"per_capita_monthly_income": income}),
        "city": celpy.json_to_cel(BUNDLED.city_values()),
    }
    assert bool(compile_rule(below).evaluate(activation)) is expected


PREFIX = "matters.yaml: PUBLIC_RENTAL_HOUSING.rules"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("income.per_capita_monthly_income <", "does not parse at line 1, column 34"),
        ("tax_payment.amount_paid > 0.0", "unknown name 'tax_payment': not a proof of this matter, members, application, city or today"),
        ("members.all(m, m.no_housing.owns_house == false)", "unknown field no_housing.owns_house"),
        (
            "members.all(m, m.no_housing.search_no == '')",
            "no_housing.search_no is not among the fields this matter receives (data minimisation)",
        ),
        ("income.full_name == ''", "income.full_name is not among the fields this matter receives (data minimisation)"),
        ("members.exists(m, m.income.family_size > 3)", "members have no proof income (scope each_member)"),
        (
            "no_housing.has_registered_property",
            "no_housing is read per member: members.all(m, m.no_housing.<field> ...)",
        ),
        (
            "members[0].no_housing.property_count == 0",
            "read members through a macro, e.g. members.all(m, m.<proof>.<field> ...)",
        ),
        ("income.per_capita_monthly_income < city.poverty_line", "unknown city constant city.poverty_line"),
        ("sise(members) >= 1", "unknown function sise()"),
        ("size(members.flatten()) > 1", "unknown method .flatten()"),
    ],
    ids=[
        "syntax",
        "unknown_proof",
        "unknown_field",
        "member_not_received",
        "not_received",
        "member_scope",
        "per_member",
        "index",
        "constant",
        "function",
        "method",
    ],
)
def test_bad_expressions_are_rejected(tmp_path: Path, sections: Sections, expression: str, message: str) -> None:
    assert rejected(tmp_path, sections, "PUBLIC_RENTAL_HOUSING", rule(expression)) == [
        f"{PREFIX}[extra].expression: {message}"
    ]


TYPE_ERROR = "type error: an operator or function is given values of types it does not take"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("income.per_capita_monthly_income < '3000'",
         f"{TYPE_ERROR} ('<' not supported between instances of 'double' and 'string')"),
        ("members.all(m, m.no_housing.property_count == '0')", f"{TYPE_ERROR} (no such overload: int != string)"),
        ("application.priority_allocation ? income.family_size > 'x' : true",  # only one way of the choice
         f"{TYPE_ERROR} (no such overload: int != string)"),
        ("marital_status.marital_status == 'married' ? income.family_size > '2' : true",  # one code, inside
         f"{TYPE_ERROR} (no such overload: int != string)"),                          # its vocabulary
        ("marital_status.marital_status == 'maried' || members.size() == 1",  # false for everyone, silently
         "'maried' is not a code of marital_status.marital_status (unmarried, married, divorced, widowed)"),
        ("members.all(m, m.household_registration.hukou_status in ['normal', 'moved'])",
         "'moved' is not a code of household_registration.hukou_status (normal, cancelled, moved_out)"),
        ("income.family_size + 1", "must give a boolean, gives a number"),
        ("marital_status.marital_status", "must give a boolean, gives a string"),
    ],
    ids=["decimal_string", "member_int_string", "one_branch", "one_code", "misspelt_code", "misspelt_listed_code",
         "number", "string"],
)
def test_a_rule_whose_types_cannot_work_is_rejected(tmp_path: Path, sections: Sections, expression: str,
                                                    message: str) -> None:
    """Published, each would leave every application of the matter to a caseworker: the rule is
    undecidable whatever the data."""
    assert rejected(tmp_path, sections, "PUBLIC_RENTAL_HOUSING", rule(expression)) == [
        f"{PREFIX}[extra].expression: {message}"
    ]


def test_a_rule_over_a_list_of_records_is_not_taken_for_a_type_error(tmp_path: Path, sections: Sections) -> None:
    """The household book's members are records the catalog does not describe (a list with no
    vocabulary): "the applicant is in the household book" validates and loads."""
    newborn = entry(sections["matters"], "NEWBORN_BIRTH")
    book = next(p for p in newborn["proofs"] if p["proof"] == "HOUSEHOLD_BOOK")
    book["fields"] = sorted({*book["fields"], "members"})
    newborn["rules"].append(rule("household_book.members.exists(p, p.id_number == applicant.id_number)"))
    assert "extra" in {r.code for r in load_catalog(write(tmp_path / "catalog", sections)).matters["NEWBORN_BIRTH"].rules}


def test_a_verification_whose_types_cannot_work_is_rejected(tmp_path: Path, sections: Sections) -> None:
    """事后核查 of every commitment to 收入证明 would be undecided: an on-site check each."""
    income = entry(sections["proofs"], "INCOME")
    income["verification"]["expression"] = "committed.per_capita_monthly_income <= 'record'"
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog(write(tmp_path / "catalog", sections))
    assert [str(problem) for problem in caught.value.problems] == [
        f"proofs.yaml: INCOME.verification.expression: {TYPE_ERROR} "
        "('<=' not supported between instances of 'double' and 'string')"]


def test_members_is_only_for_household_matters(tmp_path: Path, sections: Sections) -> None:
    problems = rejected(tmp_path, sections, "TEACHER_QUALIFICATION", rule("size(members) == 1"))
    assert problems == [
        "matters.yaml: TEACHER_QUALIFICATION.rules[extra].expression: "
        "unknown name 'members': not a proof of this matter, members, application, city or today"
    ]


def test_duplicate_rule_code(tmp_path: Path, sections: Sections) -> None:
    problems = rejected(tmp_path, sections, "PUBLIC_RENTAL_HOUSING", rule("true", code="no_property"))
    added = len(BUNDLED.matters["PUBLIC_RENTAL_HOUSING"].rules)
    assert problems == [f"{PREFIX}[{added}].code: duplicate rule code 'no_property'"]


def test_unknown_outcome(tmp_path: Path, sections: Sections) -> None:
    problems = rejected(tmp_path, sections, "PUBLIC_RENTAL_HOUSING", rule("true", outcome="rejected"))
    added = len(BUNDLED.matters["PUBLIC_RENTAL_HOUSING"].rules)
    assert problems == [f"{PREFIX}[{added}].outcome_if_false: 'rejected' is not one of: not_eligible, needs_review"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(" * 20_000 + "true" + ")" * 20_000, "must have at most 2000 characters"),
        ("(" * 500 + "true" + ")" * 500, "must not nest brackets more than 16 levels deep"),
        (" + ".join(["1"] * 300) + " > 0", "must have at most 400 tokens"),
    ],
    ids=["long", "deep", "costly"],
)
def test_expressions_over_the_limits_are_refused_before_parsing(
    tmp_path: Path, sections: Sections, expression: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compile_cel = celpy.Environment.compile

    def parse_only_within_limits(environment: celpy.Environment, text: str) -> object:
        assert text != expression, "an expression over the limits was parsed"
        return compile_cel(environment, text)

    monkeypatch.setattr(celpy.Environment, "compile", parse_only_within_limits)
    problems = rejected(tmp_path, sections, "PUBLIC_RENTAL_HOUSING", rule(expression))
    assert len(problems) == 1 and problems[0].endswith(f"expression: {message}"), problems


def test_brackets_inside_string_literals_do_not_count() -> None:
    assert expression_limit_problem("'((((((((((((((((((((' != \"]]]]]]]]]]]]]]]]]]]]]]\"") is None


def test_evaluation_stops_at_its_budget() -> None:
    members = celpy.json_to_cel([{"no_housing": {"has_registered_property": False}}] * 20)
    nested = compile_expression("members.all(a, members.all(b, members.all(c, members.all(d, a == d))))")
    with pytest.raises(EvaluationBudgetExceeded):
        nested.evaluate({"members": members})
    no_property = BUNDLED.matters["PUBLIC_RENTAL_HOUSING"].rules[0]
    assert bool(compile_rule(no_property).evaluate({"members": members})) is True


@pytest.mark.parametrize(("expression", "problem"), [
    ("applicant.id_number != ''", None),
    ("members.exists(m, m.id_number == marital_status.spouse_id_number)", None),
    ("applicant.name != ''", "unknown field applicant.name"),
    ("members.exists(m, m.id_number.x == 1)", "members have no proof id_number"),
])
def test_a_rule_reads_the_applicants_and_members_own_id_numbers_and_nothing_else_of_them(
        tmp_path: Path, sections: Sections, expression: str, problem: str | None) -> None:
    if problem is None:
        entry(sections["matters"], "PUBLIC_RENTAL_HOUSING").setdefault("rules", []).append(rule(expression))
        load_catalog(write(tmp_path / "catalog", sections))
    else:
        assert any(problem in line for line in rejected(tmp_path, sections, "PUBLIC_RENTAL_HOUSING", rule(expression)))
