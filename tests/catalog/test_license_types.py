"""License types (证照目录) in the catalog: the bundled ones, and the problems a broken one reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from catalog.errors import CatalogInvalid
from catalog.loading import SECTIONS, bundled_catalog_path, catalog_from_document, load_catalog
from catalog.model import Subject, ValidityRule

BUNDLED = load_catalog(bundled_catalog_path())


def test_the_bundled_catalog_declares_the_common_licenses() -> None:
    names = {license_type.name_zh for license_type in BUNDLED.licenses.values()}
    assert len(names) >= 10
    assert {"居民户口簿", "出生医学证明", "结婚证", "离婚证", "中华人民共和国残疾人证", "居住证", "不动产权证书",
            "学历证书", "营业执照", "机动车驾驶证"} <= names
    assert BUNDLED.licenses["BUSINESS_LICENSE_COPY"].holder is Subject.ORGANISATION
    assert BUNDLED.licenses["SOCIAL_SECURITY_CARD"].validity is ValidityRule.YEARS
    assert BUNDLED.licenses["SOCIAL_SECURITY_CARD"].validity_years == 10


def test_the_use_list_denies_by_default() -> None:
    marriage = BUNDLED.licenses["MARRIAGE_CERTIFICATE"]
    use = marriage.use_for("ZJ", "PUBLIC_RENTAL_HOUSING")
    assert use is not None and "marital_status" in use.items and "id_number" not in use.items
    assert marriage.use_for("JY", "PUBLIC_RENTAL_HOUSING") is None
    assert marriage.use_for("ZJ", "RETIREMENT") is None


def test_license_types_survive_the_published_document() -> None:
    document = BUNDLED.to_document()
    assert [entry["code"] for entry in document["licenses"]] == list(BUNDLED.licenses)
    assert catalog_from_document(document) == BUNDLED


def _problems(tmp_path: Path, change: Any) -> list[str]:
    sections = {name: yaml.safe_load((bundled_catalog_path() / f"{name}.yaml").read_text("utf-8")) for name in SECTIONS}
    licenses = {entry["code"]: entry for entry in sections["licenses"]}
    change(licenses)
    for name, entries in sections.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), "utf-8")
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog(tmp_path)
    return [str(problem) for problem in caught.value.problems]


def test_references_of_a_license_type_must_exist(tmp_path: Path) -> None:
    def change(licenses: dict[str, Any]) -> None:
        marriage = licenses["MARRIAGE_CERTIFICATE"]
        marriage["department"] = "XX"
        marriage["uses"][0]["matter"] = "NOPE"
        marriage["uses"][0]["departments"] = ["ZJ", "YY"]
        licenses["DIVORCE_CERTIFICATE"]["type_code"] = "2003"
        licenses["DIPLOMA"]["proof"] = "NO_SUCH_PROOF"
        licenses["BUSINESS_LICENSE_COPY"]["proof"] = "EDUCATION"
        licenses["DISABILITY_CARD"]["data_items"][3] = {"name": "disability_category", "name_zh": "类别",
                                                        "type": "string"}

    assert _problems(tmp_path, change) == [
        "licenses.yaml: MARRIAGE_CERTIFICATE.department: unknown department 'XX'",
        "licenses.yaml: MARRIAGE_CERTIFICATE.uses[0].matter: unknown matter 'NOPE'",
        "licenses.yaml: MARRIAGE_CERTIFICATE.uses[0].departments[1]: unknown department 'YY'",
        "licenses.yaml: DIVORCE_CERTIFICATE.type_code: duplicate type_code, already used by license type "
        "MARRIAGE_CERTIFICATE",
        "licenses.yaml: DISABILITY_CARD.data_items[3].type: proof DISABILITY has 'disability_category' as enum, "
        "not string",
        "licenses.yaml: DIPLOMA.proof: unknown proof 'NO_SUCH_PROOF'",
        "licenses.yaml: BUSINESS_LICENSE_COPY.proof: proof EDUCATION has subject person, this license type has "
        "holder organisation",
    ]


def test_a_license_type_checked_on_its_own(tmp_path: Path) -> None:
    def change(licenses: dict[str, Any]) -> None:
        licenses["MARRIAGE_CERTIFICATE"]["uses"][1]["items"] = ["marital_status", "shoe_size"]
        licenses["SOCIAL_SECURITY_CARD"].pop("validity_years")
        licenses["DIPLOMA"]["validity_years"] = 5
        licenses["DRIVING_LICENSE"]["type_code"] = "1001"

    assert _problems(tmp_path, change) == [
        "licenses.yaml: MARRIAGE_CERTIFICATE.uses[1].items[1]: 'shoe_size' is not a data item of this license type",
        "licenses.yaml: DIPLOMA.validity_years: only the validity rule years takes validity_years",
        "licenses.yaml: DRIVING_LICENSE.type_code: '1001' does not match ^2[0-9]{3}$",
        "licenses.yaml: SOCIAL_SECURITY_CARD.validity_years: required because the validity rule is years",
    ]
