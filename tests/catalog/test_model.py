"""The catalog's domain objects: queries, vocabularies, document round-trip and content hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from catalog.loading import bundled_catalog_path, catalog_from_document, load_catalog
from catalog.model import Catalog, Domain, Mode, Scope, Subject


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
