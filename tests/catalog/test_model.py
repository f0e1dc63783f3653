"""The catalog's domain objects: queries, vocabularies, options, city constants, document
round-trip and content hash."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.canonical import canonical_sha256
from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from catalog.model import (
    Catalog,
    CityConstant,
    Domain,
    MatterOption,
    Mode,
    OptionType,
    Recheck,
    Scope,
    Service,
    Subject,
    Verification,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


def test_mode_labels_are_the_ones_the_public_page_shows() -> None:
    assert [mode.label_zh for mode in Mode] == ["直接取消", "数据共享", "电子证照", "告知承诺", "部门核查", "网上开具"]
    assert Mode("commitment") is Mode.COMMITMENT


def test_every_vocabulary_member_has_a_chinese_label() -> None:
    for vocabulary in (Mode, Domain, Scope, Subject):
        for member in vocabulary:
            assert member.label_zh and not member.label_zh.isascii()


def test_mode_for_is_the_override_else_the_default(catalog: Catalog) -> None:
    teacher = catalog.matters["TEACHER_QUALIFICATION"]
    assert teacher.mode_for(catalog.proofs["EDUCATION"]) is catalog.proofs["EDUCATION"].mode
    assert teacher.mode_for(catalog.proofs["NO_CRIMINAL_RECORD"]) is Mode.COMMITMENT
    with pytest.raises(KeyError):
        teacher.mode_for(catalog.proofs["NO_HOUSING"])


def test_fields_for(catalog: Catalog) -> None:
    assert catalog.matters["TEACHER_QUALIFICATION"].fields_for("NO_CRIMINAL_RECORD") == ("has_criminal_record",)
    with pytest.raises(KeyError):
        catalog.matters["TEACHER_QUALIFICATION"].fields_for("NO_HOUSING")


@pytest.mark.parametrize(
    ("consumer", "matter", "proof"),
    [
        ("GA", "PUBLIC_RENTAL_HOUSING", "NO_HOUSING"),  # not a consumer of the matter
        ("ZJ", "PUBLIC_RENTAL_HOUSING", "NO_CRIMINAL_RECORD"),  # not required by the matter
        ("ZJ", "NO_SUCH_MATTER", "NO_HOUSING"),
        ("ZJ", "PUBLIC_RENTAL_HOUSING", "NO_SUCH_PROOF"),
        ("XX", "PUBLIC_RENTAL_HOUSING", "NO_HOUSING"),
        ("RS", "RETIREMENT", "ALIVE_PROOF"),  # abolished
    ],
)
def test_may_request_denies_by_default(catalog: Catalog, consumer: str, matter: str, proof: str) -> None:
    assert not catalog.may_request(consumer, matter, proof)


def test_may_request_allows_listed_consumers(catalog: Catalog) -> None:
    for code in ("RS", "YB", "GJJ"):
        assert catalog.may_request(code, "RETIREMENT", "SOCIAL_INSURANCE")


def test_document_round_trip(catalog: Catalog) -> None:
    document = catalog.to_document()
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document
    assert Catalog.from_document(document) == catalog
    assert catalog_from_document(document) == catalog
    assert list(catalog.proofs) == [entry["code"] for entry in document["proofs"]]


def test_optional_keys_are_left_out_of_the_document(catalog: Catalog) -> None:
    document = catalog.to_document()
    housing = next(matter for matter in document["matters"] if matter["code"] == "PUBLIC_RENTAL_HOUSING")
    assert "service_code" not in housing
    assert "mode" not in housing["proofs"][0] and housing["proofs"][2]["mode"] == "data_sharing"
    no_housing = next(proof for proof in document["proofs"] if proof["code"] == "NO_HOUSING")
    assert "commitment_text_zh" not in no_housing and no_housing["validity_days"] == 30


def test_content_hash_is_sha256_of_the_canonical_json(catalog: Catalog) -> None:
    canonical = json.dumps(catalog.to_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert catalog.content_hash() == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert "无房证明" in canonical


def test_content_hash_ignores_the_file_layout_but_not_the_content(catalog: Catalog, tmp_path: Path) -> None:
    single = tmp_path / "catalog.yaml"
    single.write_text(yaml.safe_dump(catalog.to_document(), allow_unicode=True, sort_keys=True), encoding="utf-8")
    assert load_catalog(single).content_hash() == catalog.content_hash()
    document = catalog.to_document()
    document["proofs"][0]["validity_days"] = 31
    assert catalog_from_document(document).content_hash() != catalog.content_hash()


def test_catalog_objects_are_immutable(catalog: Catalog) -> None:
    with pytest.raises(AttributeError):
        catalog.proofs["NO_HOUSING"].mode = Mode.ABOLISHED  # type: ignore[misc]
    with pytest.raises(TypeError):
        catalog.proofs["X"] = catalog.proofs["NO_HOUSING"]  # type: ignore[index]
    with pytest.raises(TypeError):
        catalog.proofs["HOUSEHOLD_REGISTRATION"].item("gender").values["x"] = "y"  # type: ignore[index]


def test_pulled_modes() -> None:
    assert {mode for mode in Mode if mode.pulled} == {Mode.DATA_SHARING, Mode.E_LICENSE, Mode.ONLINE_ISSUE}


def test_options_and_their_defaults(catalog: Catalog) -> None:
    enrollment = catalog.matters["COMPULSORY_EDUCATION_ENROLLMENT"]
    basis = enrollment.option("enrollment_basis")
    assert basis.type is OptionType.ENUM and basis.default == "hukou_property"
    assert basis.values["migrant_rental"] == "随迁子女（租赁住房）"
    assert enrollment.option_defaults() == {"enrollment_basis": "hukou_property"}
    housing = catalog.matters["PUBLIC_RENTAL_HOUSING"]
    assert housing.option("priority_allocation") == MatterOption("priority_allocation", "申请优先配租", OptionType.BOOLEAN, False)
    assert catalog.matters["RETIREMENT"].option_defaults() == {}
    with pytest.raises(KeyError):
        housing.option("enrollment_basis")
    with pytest.raises(TypeError):
        basis.values["x"] = "y"  # type: ignore[index]


def test_the_new_matter_elements(catalog: Catalog) -> None:
    housing = catalog.matters["PUBLIC_RENTAL_HOUSING"]
    assert housing.entry("SINGLE_DECLARATION").when == "marital_status.marital_status != 'married'"
    assert housing.entry("MARITAL_STATUS").commitment_fallback and not housing.entry("INCOME").commitment_fallback
    assert [priority.code for priority in housing.priorities] == ["minimum_living_family", "disabled_member"]
    assert housing.recheck == Recheck("公租房年度复核", ("no_property", "income_below_line", "members_registered"))
    newborn = catalog.matters["NEWBORN_BIRTH"]
    assert [(service.department, service.name_zh) for service in newborn.services] == [
        ("GA", "出生登记（户口登记）"), ("YB", "城乡居民医保参保登记"), ("RS", "社会保障卡申领")
    ]
    assert newborn.services[0] == Service(
        "hukou_registration", "出生登记（户口登记）", "GA", ("birth_certificate_issued", "household_book_available")
    )
    assert catalog.proofs["SINGLE_DECLARATION"].verification == Verification(
        "MARITAL_STATUS", "record.marital_status != 'married'"
    )
    assert catalog.proofs["MARITAL_STATUS"].verification == Verification("MARITAL_STATUS")
    assert catalog.proofs["HOUSING_HARDSHIP_REPORT"].verification is None


def test_the_city_constants(catalog: Catalog) -> None:
    assert catalog.city["minimum_living_standard_monthly"] == CityConstant(
        "minimum_living_standard_monthly", "城乡居民最低生活保障标准", 1205.0, "元/人·月"
    )
    values = catalog.city_values()
    assert values["public_housing_income_line_monthly"] == 3000.0
    assert all(isinstance(value, float) for value in values.values())
    assert list(values) == [constant["name"] for constant in catalog.to_document()["city"]]
    with pytest.raises(TypeError):
        catalog.city["x"] = catalog.city["minimum_living_standard_monthly"]  # type: ignore[index]


def test_the_document_form_of_the_new_elements(catalog: Catalog) -> None:
    document = catalog.to_document()
    matters = {matter["code"]: matter for matter in document["matters"]}
    housing = matters["PUBLIC_RENTAL_HOUSING"]
    assert housing["options"] == [
        {"name": "priority_allocation", "name_zh": "申请优先配租", "type": "boolean", "default": False}
    ]
    assert housing["recheck"] == {"name_zh": "公租房年度复核",
                                  "rules": ["no_property", "income_below_line", "members_registered"]}
    assert housing["priorities"][1] == {
        "code": "disabled_member",
        "name_zh": "家庭成员持有残疾人证",
        "expression": "application.priority_allocation && members.exists(m, has(m.disability) "
                      "&& (m.disability.valid_until == null || m.disability.valid_until >= today))",
    }
    entries = {entry["proof"]: entry for entry in housing["proofs"]}
    assert entries["MARITAL_STATUS"]["commitment_fallback"] is True and "when" not in entries["MARITAL_STATUS"]
    assert "commitment_fallback" not in entries["INCOME"]
    assert entries["MINIMUM_LIVING"]["when"] == "application.priority_allocation"
    assert matters["NEWBORN_BIRTH"]["services"][2] == {
        "code": "social_security_card", "name_zh": "社会保障卡申领", "department": "RS", "rules": ["newborn_named"]
    }
    assert matters["COMPULSORY_EDUCATION_ENROLLMENT"]["options"][0]["values"]["hukou_property"] == "户籍生（学区房产）"
    retirement = matters["RETIREMENT"]
    assert not {"options", "priorities", "services", "recheck", "rules"} & set(retirement)
    proofs = {proof["code"]: proof for proof in document["proofs"]}
    assert proofs["MARITAL_STATUS"]["verification"] == {"proof": "MARITAL_STATUS"}
    assert proofs["INCOME"]["verification"]["proof"] == "INCOME"
    assert "verification" not in proofs["NO_HOUSING"]
    assert document["city"][0] == {
        "name": "minimum_living_standard_monthly", "name_zh": "城乡居民最低生活保障标准", "value": 1205.0, "unit_zh": "元/人·月"
    }


def _without_extensions(document: dict[str, Any]) -> dict[str, Any]:
    """The document as it was before options, conditions, fallbacks, verifications,
    priorities, services, the re-check and the city section existed."""
    stripped = copy.deepcopy(document)
    del stripped["city"]
    for proof in stripped["proofs"]:
        proof.pop("verification", None)
    for matter in stripped["matters"]:
        for key in ("options", "priorities", "services", "recheck"):
            matter.pop(key, None)
        for entry in matter["proofs"]:
            entry.pop("when", None)
            entry.pop("commitment_fallback", None)
    return stripped


def test_a_document_without_the_new_elements_keeps_its_form_and_hash(catalog: Catalog) -> None:
    old = _without_extensions(catalog.to_document())
    rebuilt = Catalog.from_document(old)
    assert rebuilt.to_document() == old
    assert rebuilt.content_hash() == canonical_sha256(old)
    assert rebuilt.city == {} and rebuilt.matters["PUBLIC_RENTAL_HOUSING"].recheck is None


def _matter(document: dict[str, Any], code: str) -> dict[str, Any]:
    return next(matter for matter in document["matters"] if matter["code"] == code)


def _proof(document: dict[str, Any], code: str) -> dict[str, Any]:
    return next(proof for proof in document["proofs"] if proof["code"] == code)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: _matter(d, "PUBLIC_RENTAL_HOUSING")["options"][0].update(default=True),
        lambda d: _matter(d, "COMPULSORY_EDUCATION_ENROLLMENT")["options"][0]["values"].update(hukou_property="户籍生"),
        lambda d: _matter(d, "PUBLIC_RENTAL_HOUSING")["proofs"][6].update(when="true"),
        lambda d: _matter(d, "PUBLIC_RENTAL_HOUSING")["proofs"][5].pop("commitment_fallback"),
        lambda d: _matter(d, "PUBLIC_RENTAL_HOUSING")["priorities"].pop(),
        lambda d: _matter(d, "NEWBORN_BIRTH")["services"][0].update(department="RS"),
        lambda d: _matter(d, "PUBLIC_RENTAL_HOUSING")["recheck"]["rules"].pop(),
        lambda d: _proof(d, "SINGLE_DECLARATION")["verification"].update(expression="true"),
        lambda d: _proof(d, "MARITAL_STATUS").pop("verification"),
        lambda d: d["city"][0].update(value=1300.0),
        lambda d: d["city"][0].update(unit_zh="元"),
    ],
    ids=["option_default", "option_label", "when", "fallback", "priority", "service", "recheck", "verification",
         "no_verification", "city_value", "city_unit"],
)
def test_the_content_hash_covers_the_new_elements(catalog: Catalog, change: Callable[[dict[str, Any]], object]) -> None:
    document = catalog.to_document()
    change(document)
    changed = Catalog.from_document(document)
    assert changed.to_document() == document
    assert changed != catalog and changed.content_hash() != catalog.content_hash()
