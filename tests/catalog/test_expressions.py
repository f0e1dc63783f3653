"""The bundled catalog's CEL expressions evaluate with celpy to a bool on realistic data, as
the matter handlers bind it (docs/catalog.md, "Expressions"), and say what they mean:
conditions, rules, priorities and verifications."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import celpy
import pytest

from catalog.cel_syntax import CelSyntaxError
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import DataItem, ItemType, Matter, Proof, Scope
from catalog.rules import compile_expression, expression_reads

BUNDLED = load_catalog(bundled_catalog_path())
SINGLE_SUBJECT = (Scope.APPLICANT, Scope.CHILD, Scope.DECEASED, Scope.EMPLOYER)

_SAMPLES: dict[ItemType, Any] = {
    ItemType.STRING: "示例",
    ItemType.ID_NUMBER: "330702198507149853",
    ItemType.USCC: "91330702MA2E5XQ06T",
    ItemType.DATE: "2026-05-01",
    ItemType.DATETIME: "2026-05-01T09:30:00+08:00",
    ItemType.BOOLEAN: False,
    ItemType.INTEGER: 24,
    ItemType.DECIMAL: 1000.0,
    ItemType.REGION_CODE: "330702",
}


def sample(item: DataItem) -> Any:
    """A plausible value of a data item as CEL reads it (decimals as doubles)."""
    if item.type is ItemType.ENUM:
        return next(iter(item.values))
    if item.type is ItemType.LIST:
        return list(item.values)[:1] or ["示例"]
    return _SAMPLES[item.type]


def record(proof: Proof, fields: tuple[str, ...] | None = None, **values: Any) -> dict[str, Any]:
    """A sample record of `proof` (only `fields` if given), with `values` overriding it."""
    items = [item for item in proof.data_items if fields is None or item.name in fields]
    return {**{item.name: sample(item) for item in items}, **values}


TODAY = "2026-12-05"
"""`today` in the activation: the city's date."""
APPLICANT_ID = "110105194912310029"
"""`applicant.id_number` in the activation."""

def activation(matter: Matter, household_size: int = 2, **bindings: Any) -> dict[str, Any]:
    """The CEL activation of an application of `matter` where every proof is resolved with
    sample values; `bindings` replace whole names (`application`, a proof, `members`)."""
    plain: dict[str, Any] = {"application": matter.option_defaults(), "city": BUNDLED.city_values(),
                             "today": TODAY, "applicant": {"id_number": APPLICANT_ID}}
    member_proofs = {}
    for entry in matter.proofs:
        values = record(BUNDLED.proofs[entry.proof], entry.fields)
        if entry.scope in SINGLE_SUBJECT:
            plain[entry.proof.lower()] = values
        elif entry.scope is Scope.EACH_MEMBER:
            member_proofs[entry.proof.lower()] = values
    if matter.household:
        plain["members"] = [{**member_proofs, "id_number": f"member-{n}"} for n in range(household_size)]
    plain.update(bindings)
    return {name: celpy.json_to_cel(value) for name, value in plain.items()}


def evaluate(expression: str, bound: Mapping[str, Any]) -> bool:
    result = compile_expression(expression).evaluate(dict(bound))
    assert isinstance(result, celpy.celtypes.BoolType), (expression, result)
    return bool(result)


def matter_expressions() -> Iterator[tuple[str, str, str]]:
    for matter in BUNDLED.matters.values():
        for entry in matter.proofs:
            if entry.when:
                yield matter.code, f"proofs[{entry.proof}].when", entry.when
        for rule in matter.rules:
            yield matter.code, f"rules[{rule.code}]", rule.expression
        for priority in matter.priorities:
            yield matter.code, f"priorities[{priority.code}]", priority.expression


@pytest.mark.parametrize(("matter", "where", "expression"), list(matter_expressions()),
                         ids=[f"{m}.{w}" for m, w, _ in matter_expressions()])
def test_every_bundled_matter_expression_gives_a_bool(matter: str, where: str, expression: str) -> None:
    evaluate(expression, activation(BUNDLED.matters[matter]))


def test_every_option_value_gives_a_bool_in_every_condition() -> None:
    for matter in BUNDLED.matters.values():
        for option in matter.options:
            for choice in list(option.values) or [True, False]:
                bound = activation(matter, application={**matter.option_defaults(), option.name: choice})
                for entry in matter.proofs:
                    if entry.when:
                        evaluate(entry.when, bound)


@pytest.mark.parametrize("proof", [p for p in BUNDLED.proofs.values() if p.verification and p.verification.expression],
                         ids=lambda proof: proof.code)
def test_every_bundled_verification_gives_a_bool(proof: Proof) -> None:
    assert proof.verification is not None and proof.verification.expression is not None
    target = BUNDLED.proofs[proof.verification.proof]
    bound = {"committed": record(proof), "record": record(target), "city": BUNDLED.city_values()}
    evaluate(proof.verification.expression, {name: celpy.json_to_cel(value) for name, value in bound.items()})


HOUSING = BUNDLED.matters["PUBLIC_RENTAL_HOUSING"]


def _when(matter: Matter, proof: str) -> str:
    when = matter.entry(proof).when
    assert when is not None
    return when


def _expression(matter: Matter, code: str) -> str:
    return next(entry.expression for entry in (*matter.rules, *matter.priorities) if entry.code == code)


@pytest.mark.parametrize(("status", "required"), [("married", False), ("unmarried", True), ("divorced", True)])
def test_the_single_declaration_is_required_only_without_a_spouse(status: str, required: bool) -> None:
    bound = activation(HOUSING, marital_status={"marital_status": status, "spouse_id_number": None})
    assert evaluate(_when(HOUSING, "SINGLE_DECLARATION"), bound) is required


@pytest.mark.parametrize("priority", [False, True])
def test_priority_proofs_are_required_only_for_priority_allocation(priority: bool) -> None:
    bound = activation(HOUSING, application={"priority_allocation": priority})
    assert evaluate(_when(HOUSING, "MINIMUM_LIVING"), bound) is priority
    assert evaluate(_when(HOUSING, "DISABILITY"), bound) is priority


@pytest.mark.parametrize(("owns", "expected"), [([False, False, False], True), ([False, True, False], False)])
def test_no_property_is_false_when_one_member_has_property(owns: list[bool], expected: bool) -> None:
    members = [{"no_housing": {"has_registered_property": o, "property_count": int(o)}} for o in owns]
    assert evaluate(_expression(HOUSING, "no_property"), activation(HOUSING, members=members)) is expected


@pytest.mark.parametrize(
    ("priority", "disability", "expected"),
    [(True, [None, TODAY], True), (True, [None, None], False), (False, ["2031-01-01", "2031-01-01"], False),
     (True, ["2026-12-04", None], False), (True, ["", None], True)],
    ids=["one_certificate", "none", "not_asked", "expired", "no_expiry"],
)
def test_the_disabled_member_priority(priority: bool, disability: list[str | None], expected: bool) -> None:
    """A member's certificate counts until its 有效期至 (`today` included); one that states none
    (null) counts. A member without a certificate has no `disability` in the member's map."""
    members = [
        {"no_housing": {"has_registered_property": False}}
        | ({"disability": {"disability_category": "physical", "disability_grade": "grade_2",
                           "valid_until": until or None}} if until is not None else {})
        for until in disability
    ]
    bound = activation(HOUSING, members=members, application={"priority_allocation": priority})
    assert evaluate(_expression(HOUSING, "disabled_member"), bound) is expected


@pytest.mark.parametrize(
    ("kind", "active", "expected"),
    [("minimum_living", True, True), ("extreme_poverty", True, True), ("low_income", True, False),
     ("minimum_living", False, False)],
)
def test_the_minimum_living_priority(kind: str, active: bool, expected: bool) -> None:
    bound = activation(HOUSING, application={"priority_allocation": True},
                       minimum_living={"assistance_type": kind, "is_active": active, "start_date": "2024-03-01"})
    assert evaluate(_expression(HOUSING, "minimum_living_family"), bound) is expected


def test_an_unresolved_proof_is_an_evaluation_error_and_has_tells_members_apart() -> None:
    without_minimum_living = {k: v for k, v in activation(HOUSING, application={"priority_allocation": True}).items()
                              if k != "minimum_living"}
    with pytest.raises(celpy.CELEvalError):
        compile_expression(_expression(HOUSING, "minimum_living_family")).evaluate(without_minimum_living)
    not_asked = activation(HOUSING, application={"priority_allocation": False})
    del not_asked["minimum_living"]
    assert evaluate(_expression(HOUSING, "minimum_living_family"), not_asked) is False  # && stops first


@pytest.mark.parametrize(
    ("record_changes", "holds"),
    [({}, True), ({"per_capita_monthly_income": 1050.0}, True), ({"per_capita_monthly_income": 1150.0}, False),
     ({"family_size": 4}, False)],
    ids=["same", "within_tolerance", "above_tolerance", "other_family_size"],
)
def test_the_household_economic_check_of_an_income_commitment(record_changes: dict[str, Any], holds: bool) -> None:
    income = BUNDLED.proofs["INCOME"]
    assert income.verification is not None and income.verification.proof == "INCOME"
    committed = record(income, family_size=3, per_capita_monthly_income=1000.0)
    checked = {**committed, **record_changes}
    bound = {"committed": committed, "record": checked, "city": BUNDLED.city_values()}
    assert evaluate(str(income.verification.expression), {k: celpy.json_to_cel(v) for k, v in bound.items()}) is holds


@pytest.mark.parametrize(("status", "holds"), [("unmarried", True), ("widowed", True), ("married", False)])
def test_a_single_declaration_is_checked_against_the_marriage_record(status: str, holds: bool) -> None:
    declaration = BUNDLED.proofs["SINGLE_DECLARATION"]
    assert declaration.verification is not None and declaration.verification.proof == "MARITAL_STATUS"
    bound = {"committed": record(declaration), "record": record(BUNDLED.proofs["MARITAL_STATUS"], marital_status=status)}
    expression = str(declaration.verification.expression)
    assert evaluate(expression, {k: celpy.json_to_cel(v) for k, v in bound.items()}) is holds


ENROLLMENT = BUNDLED.matters["COMPULSORY_EDUCATION_ENROLLMENT"]


@pytest.mark.parametrize(
    ("basis", "required"),
    [
        ("hukou_property", {"REAL_ESTATE_CERT"}),
        ("migrant_rental", {"RENTAL_REGISTRATION", "RESIDENCE_PERMIT", "SOCIAL_INSURANCE"}),
        ("migrant_property", {"REAL_ESTATE_CERT", "RESIDENCE_PERMIT", "SOCIAL_INSURANCE"}),
    ],
)
def test_the_enrollment_basis_decides_the_proofs(basis: str, required: set[str]) -> None:
    bound = activation(ENROLLMENT, application={"enrollment_basis": basis})
    conditional = {entry.proof for entry in ENROLLMENT.proofs if entry.when}
    assert {proof for proof in conditional if evaluate(_when(ENROLLMENT, proof), bound)} == required


@pytest.mark.parametrize(
    ("basis", "insured", "months", "expected"),
    [("hukou_property", None, None, True), ("migrant_rental", "active", 12, True),
     ("migrant_rental", "active", 6, False), ("migrant_property", "suspended", 40, False)],
)
def test_a_migrant_parent_must_be_insured_long_enough(basis: str, insured: str | None, months: int | None,
                                                      expected: bool) -> None:
    bound = activation(ENROLLMENT, application={"enrollment_basis": basis})
    if insured is None:
        del bound["social_insurance"]  # not required, so not resolved: never read
    else:
        bound["social_insurance"] = celpy.json_to_cel(
            {"insured_status": insured, "insured_region": "330702", "consecutive_months": months})
    assert evaluate(_expression(ENROLLMENT, "migrant_parent_insured"), bound) is expected


@pytest.mark.parametrize(("level", "education", "expected"),
                         [("primary", "junior_college", True), ("senior_secondary", "junior_college", False),
                          ("senior_secondary", "bachelor", True)])
def test_the_education_level_of_a_teacher(level: str, education: str, expected: bool) -> None:
    teacher = BUNDLED.matters["TEACHER_QUALIFICATION"]
    bound = activation(teacher, application={"teaching_level": level},
                       education=record(BUNDLED.proofs["EDUCATION"], education_level=education))
    assert evaluate(_expression(teacher, "education_level_sufficient"), bound) is expected


def test_a_maternity_claim_needs_medical_insurance() -> None:
    newborn = BUNDLED.matters["NEWBORN_BIRTH"]
    no_claim = activation(newborn)
    del no_claim["medical_insurance"]
    assert evaluate(_expression(newborn, "maternity_insured"), no_claim) is True
    claim = activation(newborn, application={"maternity_claim": True},
                       medical_insurance={"scheme": "employee", "insured_status": "terminated", "insured_region": "330702"})
    assert evaluate(_expression(newborn, "maternity_insured"), claim) is False


def test_expression_reads() -> None:
    assert expression_reads(_expression(HOUSING, "disabled_member")) == {("application", "priority_allocation"),
                                                                         ("disability", "valid_until")}
    assert expression_reads(
        "members.all(m, m.no_housing.property_count <= 1) && income.per_capita_monthly_income < city.line"
        " && vaccination.missing_vaccines.exists(v, v == 'bcg') && size(members) > 1"
    ) == {("no_housing", "property_count"), ("income", "per_capita_monthly_income"), ("city", "line"),
          ("vaccination", "missing_vaccines")}
    income = BUNDLED.proofs["INCOME"].verification
    assert income is not None and expression_reads(str(income.expression)) == {
        ("record", "family_size"), ("committed", "family_size"), ("record", "per_capita_monthly_income"),
        ("committed", "per_capita_monthly_income"), ("city", "income_declaration_tolerance_monthly"),
    }
    assert expression_reads("vaccination.missing_vaccines.size() == 0") == {("vaccination", "missing_vaccines")}
    with pytest.raises(CelSyntaxError):
        expression_reads("income.family_size >")
