"""The catalog shipped in catalog/data: it loads, and it says what the issue and domain notes say."""

from __future__ import annotations

from collections import Counter

import pytest

from catalog.credit_code import parse_uscc
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog, Mode, Scope


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


def test_sizes(catalog: Catalog) -> None:
    assert len(catalog.departments) >= 13
    assert len(catalog.proofs) == 30
    assert len(catalog.matters) == 14


def test_every_department_has_a_valid_credit_code_of_the_demo_city(catalog: Catalog) -> None:
    for department in catalog.departments.values():
        parsed = parse_uscc(department.uscc)
        assert parsed.code == department.uscc
        assert not parsed.check_waived
        assert parsed.registration_authority == "1", department.code  # 机构编制
        assert parsed.region_code.startswith("3307"), department.code  # 金华市
    assert len({department.uscc for department in catalog.departments.values()}) == len(catalog.departments)


def test_each_departments_short_name_is_the_body_its_legal_name_names(catalog: Catalog) -> None:
    """A 委员会 is not called a 局: the short name pages print (卫生健康委员会) is the end of the
    legal name the seal bears (金华市卫生健康委员会), a bracketed note aside (one of its names, for
    the office the citizen meets: 街道办事处/社区居委会)."""
    misnamed = {code: (department.name_zh, department.legal_name_zh) for code, department in catalog.departments.items()
                if not any(name in department.legal_name_zh for name in department.name_zh.split("（")[0].split("/"))}
    assert misnamed == {}


def test_the_data_resources_bureau_is_a_government_organ(catalog: Catalog) -> None:
    assert catalog.departments["SJ"].name_zh == "数据资源局"
    assert catalog.departments["SJ"].uscc.startswith("11330700")


def test_the_default_mode_split_of_the_draft_is_kept(catalog: Catalog) -> None:
    assert Counter(proof.mode for proof in catalog.proofs.values()) == {
        Mode.DATA_SHARING: 10,
        Mode.E_LICENSE: 7,
        Mode.COMMITMENT: 6,
        Mode.ONLINE_ISSUE: 4,  # the draft's three and the registry's neutral search result
        Mode.ABOLISHED: 2,
        Mode.INVESTIGATION: 1,
    }


def test_no_housing_and_no_criminal_record_are_issued_online(catalog: Catalog) -> None:
    assert catalog.proofs["NO_HOUSING"].mode is Mode.ONLINE_ISSUE
    assert catalog.proofs["NO_CRIMINAL_RECORD"].mode is Mode.ONLINE_ISSUE


def test_no_criminal_record_is_commitment_for_teacher_qualification(catalog: Catalog) -> None:
    proof = catalog.proofs["NO_CRIMINAL_RECORD"]
    assert catalog.matters["TEACHER_QUALIFICATION"].mode_for(proof) is Mode.COMMITMENT
    assert catalog.matters["TEACHER_QUALIFICATION"].mode_for(catalog.proofs["IDEOLOGICAL_CHARACTER"]) is Mode.COMMITMENT
    assert proof.commitment_text_zh


def test_public_rental_housing(catalog: Catalog) -> None:
    matter = catalog.matters["PUBLIC_RENTAL_HOUSING"]
    assert matter.consumers == ("ZJ",)
    assert matter.household
    by_commitment = {e.proof for e in matter.proofs if matter.mode_for(catalog.proofs[e.proof]) is Mode.COMMITMENT}
    # domain.md §1: the applicant submits these two on commitment; the single-status
    # declaration is itself a signed statement, and only for the unmarried.
    assert by_commitment == {"HOUSING_HARDSHIP_REPORT", "INCOME", "SINGLE_DECLARATION"}
    assert matter.mode_for(catalog.proofs["NO_HOUSING"]) is Mode.DATA_SHARING
    assert matter.fields_for("NO_HOUSING") == ("has_registered_property", "property_count", "searched_at")
    assert matter.entry("NO_HOUSING").scope is Scope.EACH_MEMBER
    assert catalog.may_request("ZJ", "PUBLIC_RENTAL_HOUSING", "NO_HOUSING")


def test_every_proof_handled_by_commitment_has_the_text_to_sign(catalog: Catalog) -> None:
    for matter in catalog.matters.values():
        for entry in matter.proofs:
            proof = catalog.proofs[entry.proof]
            if matter.mode_for(proof) is Mode.COMMITMENT:
                assert proof.commitment_text_zh, (matter.code, proof.code)


def test_matters_never_receive_the_identity_they_asked_with(catalog: Catalog) -> None:
    # The request names the subject; echoing its name and ID number back would be more than needed.
    for matter in catalog.matters.values():
        for entry in matter.proofs:
            assert not {"full_name", "id_number"} & set(entry.fields), (matter.code, entry.proof)


def test_abolished_proofs_have_no_data_items_and_are_never_requested(catalog: Catalog) -> None:
    for proof in catalog.proofs.values():
        if proof.mode is Mode.ABOLISHED:
            assert proof.data_items == ()
    assert not catalog.may_request("RS", "RETIREMENT", "ALIVE_PROOF")


def test_consent_is_required_for_every_bundled_matter(catalog: Catalog) -> None:
    assert all(matter.consent_required for matter in catalog.matters.values())


def test_every_department_is_used(catalog: Catalog) -> None:
    used = {proof.department for proof in catalog.proofs.values()}
    used |= {consumer for matter in catalog.matters.values() for consumer in matter.consumers}
    assert set(catalog.departments) - used == {"SJ"}  # SJ runs the exchange and seals its receipts


def test_commitments_are_verified_where_a_department_holds_the_data(catalog: Catalog) -> None:
    verified = {code for code, proof in catalog.proofs.items() if proof.verification is not None}
    assert verified == {"NO_CRIMINAL_RECORD", "MARITAL_STATUS", "SINGLE_DECLARATION", "INCOME", "NOT_RENTING_PUBLIC_HOUSING"}
    committable = {code for code, proof in catalog.proofs.items() if proof.commitment_text_zh}
    # No department holds data for these: their commitments are checked on site.
    assert committable - verified == {"HOUSING_HARDSHIP_REPORT", "IDEOLOGICAL_CHARACTER", "PREMISES_PROOF", "GUARDIANSHIP"}


def test_fallbacks_to_commitment(catalog: Catalog) -> None:
    fallbacks = {
        (matter.code, entry.proof)
        for matter in catalog.matters.values()
        for entry in matter.proofs
        if entry.commitment_fallback
    }
    assert fallbacks == {
        ("PUBLIC_RENTAL_HOUSING", "MARITAL_STATUS"),
        ("PUBLIC_RENTAL_HOUSING", "NOT_RENTING_PUBLIC_HOUSING"),
        ("MINIMUM_LIVING_APPLICATION", "MARITAL_STATUS"),
    }
    for matter, code in fallbacks:
        proof = catalog.proofs[code]
        assert catalog.matters[matter].mode_for(proof).pulled and proof.commitment_text_zh


def test_conditions_an_applicant_decides_are_written_as_cel_too(catalog: Catalog) -> None:
    only_in_words = {
        (matter.code, entry.proof)
        for matter in catalog.matters.values()
        for entry in matter.proofs
        if entry.condition_zh and not entry.when
    }
    assert only_in_words == set()  # GUARDIANSHIP's reads the applicant's own ID number (`applicant.id_number`)
    assert all(entry.condition_zh for matter in catalog.matters.values() for entry in matter.proofs if entry.when)


def test_every_service_of_a_bundled_matter_is_decided(catalog: Catalog) -> None:
    for matter in catalog.matters.values():
        assert {service.department for service in matter.services} <= set(matter.consumers)
        assert all(service.rules for service in matter.services), matter.code
    assert {service.department for service in catalog.matters["NEWBORN_BIRTH"].services} == {"GA", "YB", "RS"}
