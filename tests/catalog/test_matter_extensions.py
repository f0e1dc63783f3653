"""Options, `when` conditions, fallbacks to commitment, verifications, priorities, services,
the re-check and the city section: each mistake is rejected with a problem that names the
file, the entry and the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.errors import CatalogInvalid
from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from tests.catalog.test_loading import Sections, entry, problems, problems_in, write

BUNDLED = load_catalog(bundled_catalog_path())


@pytest.fixture
def sections() -> Sections:
    return copy.deepcopy(BUNDLED.to_document())


def proof_entry(sections: Sections, matter: str, proof: str) -> dict[str, Any]:
    return next(item for item in entry(sections["matters"], matter)["proofs"] if item["proof"] == proof)


# --- when -------------------------------------------------------------------------------

WHEN = "matters.yaml: PUBLIC_RENTAL_HOUSING.proofs"


@pytest.mark.parametrize(
    ("proof", "when", "message"),
    [
        ("SINGLE_DECLARATION", "foo.bar == 1", "unknown name 'foo': not a proof of this matter, application, city or today"),
        ("SINGLE_DECLARATION", "application.foo", "unknown option application.foo"),
        (
            "MARITAL_STATUS",
            "single_declaration.declared_status == 'unmarried'",
            "single_declaration is listed after this proof: a condition reads only proofs listed before it",
        ),
        ("MARITAL_STATUS", "marital_status.marital_status == 'married'", "a condition cannot read its own proof marital_status"),
        ("DISABILITY", "members.exists(m, has(m.disability))", "conditions cannot read members"),
        ("DISABILITY", "size(members) > 2", "conditions cannot read members"),
        ("MINIMUM_LIVING", "no_housing.property_count == 0", "conditions cannot read no_housing: its scope is each_member"),
        (
            "SINGLE_DECLARATION",
            "marital_status.registration_date == ''",
            "marital_status.registration_date is not among the fields this matter receives (data minimisation)",
        ),
        ("SINGLE_DECLARATION", "marital_status.status == 'married'", "unknown field marital_status.status"),
        ("MINIMUM_LIVING", "income.family_size > city.big_family", "unknown city constant city.big_family"),
        ("MINIMUM_LIVING", "application.priority_allocation &&", "does not parse at line 1, column 33"),
    ],
    ids=["name", "option", "later_proof", "own_proof", "members", "size_members", "each_member", "not_received",
         "unknown_field", "city", "syntax"],
)
def test_bad_conditions(tmp_path: Path, sections: Sections, proof: str, when: str, message: str) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", proof)["when"] = when
    assert problems_in(tmp_path, sections) == [f"{WHEN}[{proof}].when: {message}"]


def test_a_condition_reads_a_proof_listed_before_it(tmp_path: Path, sections: Sections) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", "DISABILITY")["when"] = (
        "application.priority_allocation || minimum_living.is_active || income.family_size > 4"
    )
    assert load_catalog(write(tmp_path, sections)).matters["PUBLIC_RENTAL_HOUSING"].entry("DISABILITY").when


def test_an_empty_condition_is_a_schema_problem(tmp_path: Path, sections: Sections) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", "DISABILITY")["when"] = ""
    assert problems_in(tmp_path, sections) == [f"{WHEN}[8].when: must not be empty"]


# --- commitment_fallback ------------------------------------------------------------------


def test_fallback_on_a_proof_already_committed(tmp_path: Path, sections: Sections) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", "INCOME")["commitment_fallback"] = True
    assert problems_in(tmp_path, sections) == [
        f"{WHEN}[1].commitment_fallback: only a proof pulled from its source (data_sharing, e_license, online_issue) "
        "can fall back to commitment; INCOME is commitment in this matter"
    ]


def test_fallback_without_the_text_to_sign(tmp_path: Path, sections: Sections) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING")["commitment_fallback"] = True
    assert problems_in(tmp_path, sections) == [
        f"{WHEN}[2].commitment_fallback: falling back to commitment needs commitment_text_zh on proof NO_HOUSING"
    ]


def test_fallback_must_be_a_boolean(tmp_path: Path, sections: Sections) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", "MARITAL_STATUS")["commitment_fallback"] = "yes"
    assert problems_in(tmp_path, sections) == [f"{WHEN}[5].commitment_fallback: must be true or false"]


def test_fallback_false_is_the_default_and_left_out(tmp_path: Path, sections: Sections) -> None:
    proof_entry(sections, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING")["commitment_fallback"] = False
    loaded = load_catalog(write(tmp_path, sections))
    assert loaded == BUNDLED and loaded.content_hash() == BUNDLED.content_hash()


# --- verification ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("record.status != 'married'", "unknown field record.status"),
        ("committed.marital_status == record.marital_status", "unknown field committed.marital_status"),
        ("income.family_size == 1", "unknown name 'income': not committed, record, city or today"),
        ("record.marital_status != city.married", "unknown city constant city.married"),
        ("record.marital_status !=", "does not parse at line 1, column 23"),
    ],
    ids=["record_field", "committed_field", "name", "city", "syntax"],
)
def test_bad_verification_expressions(tmp_path: Path, sections: Sections, expression: str, message: str) -> None:
    entry(sections["proofs"], "SINGLE_DECLARATION")["verification"]["expression"] = expression
    assert problems_in(tmp_path, sections) == [f"proofs.yaml: SINGLE_DECLARATION.verification.expression: {message}"]


def test_a_verification_reads_both_proofs_and_the_city(tmp_path: Path, sections: Sections) -> None:
    entry(sections["proofs"], "SINGLE_DECLARATION")["verification"]["expression"] = (
        "record.marital_status == committed.declared_status && city.minimum_living_standard_monthly > 0.0"
    )
    assert load_catalog(write(tmp_path, sections)).proofs["SINGLE_DECLARATION"].verification is not None


@pytest.mark.parametrize(
    ("proof", "verification", "message"),
    [
        ("SINGLE_DECLARATION", {"proof": "MARRIAGE"}, "verification.proof: unknown proof 'MARRIAGE'"),
        (
            "SINGLE_DECLARATION",
            {"proof": "ALIVE_PROOF"},
            "verification.proof: proof ALIVE_PROOF is abolished: there is no record to check against",
        ),
        (
            "SINGLE_DECLARATION",
            {"proof": "BIRTH_MEDICAL"},
            "verification.expression: required: SINGLE_DECLARATION and BIRTH_MEDICAL have no data item in common "
            "to compare",
        ),
        (
            "NO_HOUSING",
            {"proof": "NO_HOUSING"},
            "verification: only a proof with commitment_text_zh can be committed to, and so verified",
        ),
        ("SINGLE_DECLARATION", {"proof": "MARITAL_STATUS", "expression": ""}, "verification.expression: must not be empty"),
        ("SINGLE_DECLARATION", {"proof": "MARITAL_STATUS", "rule": "x"}, "verification.rule: unknown field"),
        ("SINGLE_DECLARATION", {"expression": "true"}, "verification.proof: required field is missing"),
    ],
    ids=["unknown_proof", "abolished", "nothing_in_common", "no_text", "empty", "unknown_key", "no_proof"],
)
def test_bad_verifications(
    tmp_path: Path, sections: Sections, proof: str, verification: dict[str, str], message: str
) -> None:
    entry(sections["proofs"], proof)["verification"] = verification
    assert problems_in(tmp_path, sections) == [f"proofs.yaml: {proof}.{message}"]


# --- options --------------------------------------------------------------------------

OPTIONS = "matters.yaml: COMPULSORY_EDUCATION_ENROLLMENT.options[0]"


@pytest.mark.parametrize(
    ("change", "messages"),
    [
        ({"default": "school"}, ["default: 'school' is not one of the values: hukou_property, migrant_rental, migrant_property"]),
        ({"default": None}, ["default: must not be null"]),
        ({"values": None}, ["values: must not be null"]),
        ({"values": {}}, ["values: must not be empty"]),
        ({"values": {"Hukou": "户籍生"}}, ["values.Hukou.key: 'Hukou' does not match ^[a-z][a-z0-9_]*$"]),
        (
            {"type": "boolean"},
            ["values: only enum options take values", "default: must be true or false for a boolean option"],
        ),
        ({"type": "number"}, ["type: 'number' is not one of: boolean, enum"]),
        ({"name": "EnrollmentBasis"}, ["name: 'EnrollmentBasis' does not match ^[a-z][a-z0-9_]*$"]),
    ],
    ids=["default_not_a_value", "null_default", "null_values", "empty_values", "value_code", "boolean_with_values",
         "type", "name"],
)
def test_bad_enum_options(tmp_path: Path, sections: Sections, change: dict[str, Any], messages: list[str]) -> None:
    entry(sections["matters"], "COMPULSORY_EDUCATION_ENROLLMENT")["options"][0].update(change)
    assert sorted(problems_in(tmp_path, sections)) == sorted(f"{OPTIONS}.{message}" for message in messages)


def test_an_enum_option_needs_its_values(tmp_path: Path, sections: Sections) -> None:
    del entry(sections["matters"], "COMPULSORY_EDUCATION_ENROLLMENT")["options"][0]["values"]
    assert problems_in(tmp_path, sections) == [f"{OPTIONS}.values: an enum option needs its values"]


@pytest.mark.parametrize("default", ["no", 0, "false"])
def test_a_boolean_option_defaults_to_true_or_false(tmp_path: Path, sections: Sections, default: object) -> None:
    entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["options"][0]["default"] = default
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.options[0].default: must be true or false for a boolean option"
    ]


def test_option_names_are_unique(tmp_path: Path, sections: Sections) -> None:
    options = entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["options"]
    options.append(copy.deepcopy(options[0]))
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.options[1].name: duplicate option 'priority_allocation'"
    ]


# --- priorities -----------------------------------------------------------------------


def test_priorities_are_checked_like_rules(tmp_path: Path, sections: Sections) -> None:
    priorities = entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["priorities"]
    priorities[0]["expression"] = "application.urgent && minimum_living.is_active"
    priorities[1]["expression"] = "application.priority_allocation && members.exists(m, m.disability.grade == 'x')"
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.priorities[minimum_living_family].expression: "
        "unknown option application.urgent",
        "matters.yaml: PUBLIC_RENTAL_HOUSING.priorities[disabled_member].expression: unknown field disability.grade",
    ]


def test_priority_codes_are_unique(tmp_path: Path, sections: Sections) -> None:
    priorities = entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["priorities"]
    priorities.append({"code": "minimum_living_family", "name_zh": "重复", "expression": "true"})
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.priorities[2].code: duplicate priority code 'minimum_living_family'"
    ]


def test_a_priority_needs_an_expression(tmp_path: Path, sections: Sections) -> None:
    del entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["priorities"][0]["expression"]
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.priorities[0].expression: required field is missing"
    ]


# --- services and recheck ----------------------------------------------------------------

SERVICES = "matters.yaml: NEWBORN_BIRTH.services"


def test_a_service_belongs_to_a_consumer(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "NEWBORN_BIRTH")["services"][0]["department"] = "JY"
    assert problems_in(tmp_path, sections) == [f"{SERVICES}[0].department: 'JY' is not a consumer of this matter"]


def test_a_service_is_decided_by_rules_of_the_matter(tmp_path: Path, sections: Sections) -> None:
    services = entry(sections["matters"], "NEWBORN_BIRTH")["services"]
    services[1]["rules"] = ["maternity_insured", "no_property", "birth_certificate_issued"]
    services[2]["rules"] = ["newborn_named", "newborn_named"]
    assert sorted(problems_in(tmp_path, sections)) == [
        f"{SERVICES}[1].rules[1]: unknown rule 'no_property'",
        f"{SERVICES}[1].rules[2]: rule 'birth_certificate_issued' already decides service hukou_registration",
        f"{SERVICES}[2].rules[1]: rule 'newborn_named' is listed twice",
    ]


def test_service_codes_are_unique(tmp_path: Path, sections: Sections) -> None:
    services = entry(sections["matters"], "NEWBORN_BIRTH")["services"]
    services[2]["code"] = services[0]["code"]
    assert problems_in(tmp_path, sections) == [f"{SERVICES}[2].code: duplicate service code 'hukou_registration'"]


def test_recheck_rules_are_rules_of_the_matter(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["recheck"]["rules"] = ["no_property", "nope"]
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.recheck.rules[1]: unknown rule 'nope'"
    ]


def test_a_recheck_has_rules(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["recheck"]["rules"] = []
    assert problems_in(tmp_path, sections) == ["matters.yaml: PUBLIC_RENTAL_HOUSING.recheck.rules: list at least one rule"]


# --- city -----------------------------------------------------------------------------


def test_rules_read_only_the_city_section(tmp_path: Path, sections: Sections) -> None:
    sections["city"] = [c for c in sections["city"] if c["name"] != "public_housing_income_line_monthly"]
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.rules[income_below_line].expression: "
        "unknown city constant city.public_housing_income_line_monthly"
    ]


def test_without_city_yaml_there_are_no_constants(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    (tmp_path / "city.yaml").unlink()
    found = problems(lambda: load_catalog(tmp_path))
    assert "matters.yaml: PUBLIC_RENTAL_HOUSING.rules[income_below_line].expression: " \
           "unknown city constant city.public_housing_income_line_monthly" in found
    assert "proofs.yaml: INCOME.verification.expression: unknown city constant city.income_declaration_tolerance_monthly" \
           in found
    assert all("city.yaml" not in line for line in found)


def test_an_unreadable_city_yaml_is_one_problem(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    (tmp_path / "city.yaml").write_text("- name: [x\n", "utf-8")
    assert problems(lambda: load_catalog(tmp_path)) == [
        "city.yaml: line 2, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"value": "1205"}, "value: must be a finite number"),
        ({"value": True}, "value: must be a finite number"),
        ({"value": float("inf")}, "value: must be a finite number"),
        ({"unit_zh": ""}, "unit_zh: must not be empty"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
    ids=["string", "boolean", "infinite", "unit", "unknown_key"],
)
def test_bad_city_constants(tmp_path: Path, sections: Sections, change: dict[str, Any], message: str) -> None:
    sections["city"][0].update(change)
    assert problems_in(tmp_path, sections) == [f"city.yaml: minimum_living_standard_monthly.{message}"]


def test_city_constant_names_are_unique_and_values_read_as_floats(tmp_path: Path, sections: Sections) -> None:
    sections["city"][1]["value"] = 3000
    assert load_catalog(write(tmp_path / "ok", sections)).city["public_housing_income_line_monthly"].value == 3000.0
    sections["city"].append(copy.deepcopy(sections["city"][0]))
    assert problems_in(tmp_path / "bad", sections) == [
        "city.yaml: minimum_living_standard_monthly.name: duplicate name, already used by entry [0]"
    ]


def test_the_city_section_of_a_single_document(sections: Sections) -> None:
    sections["city"][0]["name"] = "Minimum"
    assert problems(lambda: catalog_from_document(sections, source="catalog.json")) == [
        "catalog.json[matters]: MINIMUM_LIVING_APPLICATION.rules[income_below_standard].expression: "
        "unknown city constant city.minimum_living_standard_monthly",
        "catalog.json[city]: Minimum.name: 'Minimum' does not match ^[a-z][a-z0-9_]*$",
    ]


def test_a_document_without_city_has_no_constants(sections: Sections) -> None:
    del sections["city"]
    with pytest.raises(CatalogInvalid):
        catalog_from_document(sections)  # the bundled rules read city constants
    for matter in sections["matters"]:
        for key in ("rules", "priorities", "services", "recheck"):
            matter.pop(key, None)
    for proof in sections["proofs"]:
        proof.pop("verification", None)
    catalog = catalog_from_document(sections)
    assert catalog.city == {} and catalog.city_values() == {}
    assert "city" not in catalog.to_document()


def test_the_written_city_file_is_a_plain_list(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    city = yaml.safe_load((tmp_path / "city.yaml").read_text("utf-8"))
    assert city == (yaml.safe_load((bundled_catalog_path() / "city.yaml").read_text("utf-8")))
