"""Loading a catalog, and rejecting a broken one as a whole with precise messages.

Each test writes a broken variant of the bundled catalog into tmp_path and checks the exact
problem lines, so a message that stops naming the file, entry or field fails here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.errors import CatalogInvalid, Problem
from catalog.loading import SECTIONS, bundled_catalog_path, catalog_from_document, load_catalog

Sections = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def bundled() -> Sections:
    return {section: yaml.safe_load((bundled_catalog_path() / f"{section}.yaml").read_text("utf-8")) for section in SECTIONS}


@pytest.fixture
def sections(bundled: Sections) -> Sections:
    return copy.deepcopy(bundled)


def entry(entries: list[dict[str, Any]], code: str) -> dict[str, Any]:
    return next(item for item in entries if item.get("code") == code)


def write(folder: Path, sections: Sections) -> Path:
    folder.mkdir(exist_ok=True)
    for name, entries in sections.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


def problems(load: Callable[[], object]) -> list[str]:
    with pytest.raises(CatalogInvalid) as caught:
        load()
    assert str(caught.value) == "\n".join(str(problem) for problem in caught.value.problems)
    return [str(problem) for problem in caught.value.problems]


def problems_in(folder: Path, sections: Sections) -> list[str]:
    return problems(lambda: load_catalog(write(folder, sections)))


def test_the_written_copy_of_the_bundled_catalog_loads(tmp_path: Path, sections: Sections) -> None:
    assert load_catalog(write(tmp_path, sections)) == load_catalog(bundled_catalog_path())


def test_unknown_department(tmp_path: Path, sections: Sections) -> None:
    entry(sections["proofs"], "NO_HOUSING")["department"] = "XX"
    assert problems_in(tmp_path, sections) == ["proofs.yaml: NO_HOUSING.department: unknown department 'XX'"]


def test_unknown_proof(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "TALENT_SETTLEMENT")["proofs"][1]["proof"] = "DIPLOMA"
    assert problems_in(tmp_path, sections) == ["matters.yaml: TALENT_SETTLEMENT.proofs[1].proof: unknown proof 'DIPLOMA'"]


def test_field_not_in_the_proof(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["proofs"][2]["fields"].append("search_number")
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.proofs[2].fields[3]: 'search_number' is not a data item of proof NO_HOUSING"
    ]


def test_duplicate_codes(tmp_path: Path, sections: Sections) -> None:
    sections["departments"].append(copy.deepcopy(entry(sections["departments"], "GA")))
    sections["matters"].append(copy.deepcopy(sections["matters"][0]))
    last_department = len(sections["departments"]) - 1
    assert problems_in(tmp_path, sections) == [
        "departments.yaml: GA.code: duplicate code, already used by entry [2]",
        "departments.yaml: GA.uscc: duplicate credit code, already used by department GA",
        "matters.yaml: PUBLIC_RENTAL_HOUSING.code: duplicate code, already used by entry [0]",
    ]
    assert sections["departments"][last_department]["code"] == "GA"


def test_unknown_consumer(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")["consumers"].append("BANK")
    assert problems_in(tmp_path, sections) == ["matters.yaml: PUBLIC_RENTAL_HOUSING.consumers[1]: unknown department 'BANK'"]


def test_commitment_override_without_the_text_to_sign(tmp_path: Path, sections: Sections) -> None:
    no_criminal_record = entry(sections["proofs"], "NO_CRIMINAL_RECORD")
    del no_criminal_record["commitment_text_zh"], no_criminal_record["verification"]
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: TEACHER_QUALIFICATION.proofs[0].mode: commitment needs commitment_text_zh on proof NO_CRIMINAL_RECORD"
    ]


def test_commitment_default_without_the_text_to_sign(tmp_path: Path, sections: Sections) -> None:
    del entry(sections["proofs"], "INCOME")["commitment_text_zh"]
    assert problems_in(tmp_path, sections) == ["proofs.yaml: INCOME.commitment_text_zh: required because the mode is commitment"]


def test_invalid_credit_code(tmp_path: Path, sections: Sections) -> None:
    department = entry(sections["departments"], "GA")
    valid = department["uscc"]
    wrong = "1" if valid[-1] != "1" else "2"
    department["uscc"] = valid[:-1] + wrong
    assert problems_in(tmp_path, sections) == [
        f"departments.yaml: GA.uscc: credit code check character: expected {valid[-1]}, got {wrong}"
    ]


def test_credit_code_must_be_written_canonically(tmp_path: Path, sections: Sections) -> None:
    department = entry(sections["departments"], "GA")
    department["uscc"] = department["uscc"].lower()
    assert problems_in(tmp_path, sections) == [
        "departments.yaml: GA.uscc: write the credit code in upper case without spaces"
    ]


def test_yaml_syntax_error_names_the_line(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    (tmp_path / "departments.yaml").write_text("- code: GA\n  name_zh: [公安局\n- code: MZ\n", "utf-8")
    assert problems(lambda: load_catalog(tmp_path)) == [
        "departments.yaml: line 3, column 7: invalid YAML: expected ',' or ']', but got ':'"
    ]


def test_repeated_yaml_key_is_an_error_not_a_silent_overwrite(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    text = (tmp_path / "proofs.yaml").read_text("utf-8")
    position = text.index("  mode: abolished\n")
    (tmp_path / "proofs.yaml").write_text(text[:position] + "  mode: commitment\n" + text[position:], "utf-8")
    line = text[:position].count("\n") + 2
    assert problems(lambda: load_catalog(tmp_path)) == [
        f"proofs.yaml: line {line}, column 3: invalid YAML: duplicate key 'mode'"
    ]


def test_missing_file_is_one_problem(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    (tmp_path / "proofs.yaml").unlink()
    assert problems(lambda: load_catalog(tmp_path)) == ["proofs.yaml: missing file"]


def test_missing_directory(tmp_path: Path) -> None:
    assert problems(lambda: load_catalog(tmp_path / "nowhere")) == [f"{tmp_path / 'nowhere'}: no such file or directory"]


def test_a_section_that_is_not_a_list(tmp_path: Path, sections: Sections) -> None:
    write(tmp_path, sections)
    (tmp_path / "matters.yaml").write_text("", "utf-8")
    assert problems(lambda: load_catalog(tmp_path)) == ["matters.yaml: expected a list of matters, got nothing"]


def test_schema_errors(tmp_path: Path, sections: Sections) -> None:
    entry(sections["departments"], "GA")["colour"] = "blue"
    no_housing = entry(sections["proofs"], "NO_HOUSING")
    no_housing["validity_days"] = "30"
    no_housing["mode"] = "fax"
    no_housing["data_items"][3]["type"] = "enum"
    entry(sections["matters"], "RETIREMENT")["household"] = "yes"
    del sections["matters"][1]["code"]
    assert problems_in(tmp_path, sections) == [
        "departments.yaml: GA.colour: unknown field",
        "proofs.yaml: NO_HOUSING.mode: 'fax' is not one of: abolished, data_sharing, e_license, commitment, "
        "investigation, online_issue",
        "proofs.yaml: NO_HOUSING.data_items[3].values: an enum item needs its values",
        "proofs.yaml: NO_HOUSING.validity_days: must be a whole number of days or null",
        "matters.yaml: [1].code: required field is missing",
        "matters.yaml: RETIREMENT.household: must be true or false",
        # license types that name the matter whose code went missing
        "licenses.yaml: HUKOU_BOOKLET.uses[0].matter: unknown matter 'NEWBORN_BIRTH'",
        "licenses.yaml: BIRTH_CERTIFICATE.uses[0].matter: unknown matter 'NEWBORN_BIRTH'",
        "licenses.yaml: MARRIAGE_CERTIFICATE.uses[1].matter: unknown matter 'NEWBORN_BIRTH'",
    ]


def test_codes_must_match_their_pattern(tmp_path: Path, sections: Sections) -> None:
    entry(sections["proofs"], "ALIVE_PROOF")["code"] = "alive-proof"
    entry(sections["matters"], "RETIREMENT")["proofs"][4]["proof"] = "alive-proof"
    assert problems_in(tmp_path, sections) == [
        "proofs.yaml: alive-proof.code: 'alive-proof' does not match ^[A-Z][A-Z0-9_]*$",
        "matters.yaml: RETIREMENT.proofs[4].proof: 'alive-proof' does not match ^[A-Z][A-Z0-9_]*$",
    ]


def test_abolished_proof_with_data_items(tmp_path: Path, sections: Sections) -> None:
    entry(sections["proofs"], "ALIVE_PROOF")["data_items"] = [{"name": "alive", "name_zh": "是否生存", "type": "boolean"}]
    assert problems_in(tmp_path, sections) == ["proofs.yaml: ALIVE_PROOF.data_items: an abolished proof has no data items"]


def test_fields_and_the_effective_mode(tmp_path: Path, sections: Sections) -> None:
    teacher = entry(sections["matters"], "TEACHER_QUALIFICATION")
    teacher["proofs"][2]["mode"] = "abolished"
    teacher["proofs"][3]["fields"] = []
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: TEACHER_QUALIFICATION.proofs[2].fields: must be empty: proof EDUCATION is abolished for this matter",
        "matters.yaml: TEACHER_QUALIFICATION.proofs[3].fields: name the data items of proof HOUSEHOLD_REGISTRATION this matter needs",
    ]


def test_scopes(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "PROVIDENT_FUND_RENT_WITHDRAWAL")["household"] = False
    entry(sections["matters"], "EMPLOYMENT_REGISTRATION")["proofs"][1]["scope"] = "employer"
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: EMPLOYMENT_REGISTRATION.proofs[1].scope: scope employer needs a proof whose subject is "
        "organisation, SOCIAL_INSURANCE has subject person",
        "matters.yaml: PROVIDENT_FUND_RENT_WITHDRAWAL.proofs[0].scope: scope applicant_and_spouse needs household: true",
    ]


def test_repeated_entries_inside_an_entry(tmp_path: Path, sections: Sections) -> None:
    housing = entry(sections["matters"], "PUBLIC_RENTAL_HOUSING")
    housing["proofs"].append(copy.deepcopy(housing["proofs"][0]))
    housing["proofs"][1]["fields"].append("family_size")
    assert problems_in(tmp_path, sections) == [
        "matters.yaml: PUBLIC_RENTAL_HOUSING.proofs[1].fields[5]: duplicate field 'family_size'",
        "matters.yaml: PUBLIC_RENTAL_HOUSING.proofs[9].proof: proof HOUSING_HARDSHIP_REPORT is listed twice",
    ]


def test_a_broken_proof_does_not_cascade_into_the_matters(tmp_path: Path, sections: Sections) -> None:
    del entry(sections["proofs"], "NO_HOUSING")["legal_basis_zh"]
    assert problems_in(tmp_path, sections) == ["proofs.yaml: NO_HOUSING.legal_basis_zh: required field is missing"]


def test_problems_from_every_file_are_reported_together_in_file_order(tmp_path: Path, sections: Sections) -> None:
    entry(sections["matters"], "RETIREMENT")["consumers"] = ["XX"]
    entry(sections["proofs"], "INCOME")["department"] = "YY"
    entry(sections["departments"], "SJ")["name_en"] = ""
    assert problems_in(tmp_path, sections) == [
        "departments.yaml: SJ.name_en: must not be empty",
        "proofs.yaml: INCOME.department: unknown department 'YY'",
        "matters.yaml: RETIREMENT.consumers[0]: unknown department 'XX'",
    ]


def test_single_json_document(tmp_path: Path, sections: Sections) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(sections, ensure_ascii=False), "utf-8")
    assert load_catalog(path) == load_catalog(bundled_catalog_path())
    entry(sections["proofs"], "NO_HOUSING")["department"] = "XX"
    path.write_text(json.dumps(sections, ensure_ascii=False), "utf-8")
    assert problems(lambda: load_catalog(path)) == ["catalog.json[proofs]: NO_HOUSING.department: unknown department 'XX'"]


def test_single_document_syntax_and_sections(tmp_path: Path, sections: Sections) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{"departments": [}', "utf-8")
    assert problems(lambda: load_catalog(path)) == ["catalog.json: line 1, column 18: invalid JSON: Expecting value"]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"departments": sections["departments"], "proofs": [], "extra": 1}), "utf-8")
    assert problems(lambda: load_catalog(path)) == [
        "catalog.yaml: unknown section 'extra'; expected departments, proofs, matters and optionally city and licenses",
        "catalog.yaml: missing section 'matters'",
    ]
    path = tmp_path / "catalog.txt"
    path.write_text("{}", "utf-8")
    assert problems(lambda: load_catalog(path)) == ["catalog.txt: expected a .json, .yaml or .yml file"]


def test_catalog_from_document_shares_the_validation(sections: Sections) -> None:
    entry(sections["proofs"], "NO_HOUSING")["department"] = "XX"
    assert problems(lambda: catalog_from_document(sections)) == [
        "document[proofs]: NO_HOUSING.department: unknown department 'XX'"
    ]
    assert problems(lambda: catalog_from_document([], source="version 3")) == [
        "version 3: expected a mapping of sections, got a list"
    ]


def test_entries_that_are_not_mappings(sections: Sections) -> None:
    sections["departments"].append("GA")
    sections["matters"] = {"code": "X"}  # type: ignore[assignment]
    assert problems(lambda: catalog_from_document(sections)) == [
        "document[departments]: [14]: expected a mapping, got a string",
        "document[matters]: expected a list of matters, got a mapping",
    ]


def test_problem_rendering() -> None:
    assert str(Problem("proofs.yaml", "NO_HOUSING", "department", "unknown")) == "proofs.yaml: NO_HOUSING.department: unknown"
    assert str(Problem("proofs.yaml", "[3]", None, "expected a mapping")) == "proofs.yaml: [3]: expected a mapping"
    assert str(Problem("proofs.yaml", None, None, "missing file")) == "proofs.yaml: missing file"
    with pytest.raises(ValueError):
        CatalogInvalid([])


def test_the_asserted_fact_is_checked_against_the_proof(tmp_path: Path, sections: Sections) -> None:
    entry(sections["proofs"], "NO_HOUSING")["asserts"]["item"] = "property_count"
    entry(sections["proofs"], "NO_HOUSING")["asserts"]["alternative"] = "NO_CRIMINAL_RECORD"
    entry(sections["proofs"], "NO_CRIMINAL_RECORD")["asserts"]["value"] = "no"
    entry(sections["proofs"], "NOT_RENTING_PUBLIC_HOUSING")["asserts"]["alternative"] = "NOPE"
    del entry(sections["proofs"], "NOT_RENTING_PUBLIC_HOUSING")["as_of_search"]
    assert problems_in(tmp_path, sections) == [
        "proofs.yaml: NO_HOUSING.asserts.item: property_count is of type integer; a fact is a boolean or enum item",
        "proofs.yaml: NO_HOUSING.asserts.alternative: proof NO_CRIMINAL_RECORD asserts a fact itself; "
        "the alternative states the result either way",
        "proofs.yaml: NO_CRIMINAL_RECORD.asserts.value: has_criminal_record is a boolean item: the value is true or false",
        "proofs.yaml: NOT_RENTING_PUBLIC_HOUSING.as_of_search: must be true: a fact asserted from a search "
        "holds only as of the search",
    ]


def test_an_assertion_needs_its_explanation(tmp_path: Path, sections: Sections) -> None:
    del entry(sections["proofs"], "NO_HOUSING")["asserts"]["refusal_zh"]
    assert problems_in(tmp_path, sections) == ["proofs.yaml: NO_HOUSING.asserts.refusal_zh: required field is missing"]


@pytest.mark.parametrize("section, code, field, value", [
    ("departments", "ZJ", "code", "ZJ\n"),
    ("proofs", "NO_HOUSING", "code", "NO_HOUSING\n"),
    ("departments", "ZJ", "name_zh", "   "),
    ("departments", "ZJ", "legal_name_zh", "金华市\u202e局建城和房住"),
    ("proofs", "NO_HOUSING", "name_zh", "无房\x00证明"),
    ("proofs", "NO_HOUSING", "legal_basis_zh", "《条例》" * 1000),
], ids=["code-newline", "proof-newline", "blank-name", "bidi-override", "nul", "too-long"])
def test_codes_are_whole_and_texts_are_printable(tmp_path: Path, sections: Sections, section: str, code: str,
                                                field: str, value: str) -> None:
    """`^...$` let a code end in a newline ("ZJ\\n", another department than ZJ); a name of spaces
    passed "not empty"; a control or bidi-override character would be sealed into certificates."""
    entry(sections[section], code)[field] = value
    found = problems_in(tmp_path, sections)
    assert any(f".{field}: " in problem for problem in found), found
