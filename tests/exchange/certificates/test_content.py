"""What a certificate's content prints about its holder: never more of an ID number than the mask."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.canonical import canonical_json
from catalog.citizen_id import mask_id_number
from catalog.model import Catalog
from exchange.certificates.model import StatusEntry, build_content

from .conftest import ID_NUMBER, ISSUED_AT, LIST_URL, STATUS_INDEX

MEMBER = "330702201505081230"


def household_content(catalog: Catalog, proof: str, data: dict) -> str:
    content = build_content(proof=catalog.proofs[proof], department=catalog.departments["GA"], holder_name="张三",
                            id_number=ID_NUMBER, data=data, purpose="申请公租房", serial=7,
                            status=StatusEntry(LIST_URL, STATUS_INDEX), issued_at=ISSUED_AT,
                            searched_at=ISSUED_AT - timedelta(minutes=1))
    assert mask_id_number(ID_NUMBER) in canonical_json(content.to_dict()).decode()
    return canonical_json(content.to_dict()).decode()


def test_household_registration_does_not_print_the_digits_the_mask_hides(catalog: Catalog) -> None:
    printed = household_content(catalog, "HOUSEHOLD_REGISTRATION", {
        "full_name": "张三", "id_number": ID_NUMBER, "gender": "male", "birth_date": "1990-03-07",
        "hukou_address": "浙江省金华市婺城区某路1号", "hukou_region": "330702", "household_head": "张三"})
    for shown in ("1990-03-07", "19900307", "1990年3月7日"):
        assert shown not in printed
    assert "浙江省金华市婺城区某路1号" in printed


def test_household_book_masks_every_members_id_number(catalog: Catalog) -> None:
    printed = household_content(catalog, "HOUSEHOLD_BOOK", {
        "household_no": "330702-0001", "household_head": "张三", "address": "浙江省金华市婺城区某路1号",
        "members": [{"name": "张三", "id_number": ID_NUMBER, "relation": "head"},
                    {"name": "张小", "id_number": MEMBER, "relation": "child"}]})
    assert ID_NUMBER not in printed and MEMBER not in printed
    assert "张三（户主，330702********1233）、张小（子女，330702********1230）" in printed


def test_every_issuable_proof_reads_as_its_catalog_writes_it(catalog: Catalog,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    """The verifier refuses a certificate that does not read as its proof's definition writes it
    (`content_not_catalogued`): every proof issued online, from a demo record, reads so, and
    still does once signed and read back."""
    import json
    import sqlite3

    from demo.data import generate_demo_sources
    from exchange.certificates.model import CertificateContent, reads_as_catalogued
    from exchange.certificates.published_documents import PublishedDocuments
    from exchange.issuance import issuable_proofs

    folder = tmp_path_factory.mktemp("sources")
    generate_demo_sources(folder, catalog)
    published = PublishedDocuments.of([catalog])
    checked = 0
    for proof in issuable_proofs(catalog):
        with sqlite3.connect(folder / f"{proof.department}.db") as connection:
            row = connection.execute("SELECT subject_id, subject_name, record FROM records WHERE proof_code = ? "
                                     "LIMIT 1", (proof.code,)).fetchone()
        if row is None:
            continue
        content = build_content(proof=proof, department=catalog.departments[proof.department], holder_name=row[1],
                                id_number=row[0], data=json.loads(row[2]), purpose="申请公租房", serial=7,
                                status=StatusEntry(LIST_URL, STATUS_INDEX), issued_at=ISSUED_AT,
                                searched_at=ISSUED_AT - timedelta(minutes=1))
        assert reads_as_catalogued(content, proof), proof.code
        assert published(CertificateContent.from_dict(json.loads(canonical_json(content.to_dict())))) is None, \
            proof.code
        checked += 1
    assert checked == len(issuable_proofs(catalog))  # a demo record for every one
