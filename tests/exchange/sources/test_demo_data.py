"""The demo data: 10,000 residents with valid ID numbers, deterministic, every record as
the catalog defines it, and every pulled proof able to come out both ways."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from catalog.citizen_id import parse_id_number
from catalog.credit_code import parse_uscc
from catalog.model import Catalog, ItemType, Proof, Subject
from exchange.sources.contract import pulled_proofs
from demo.data import demo_sources_exist, generate_demo_sources, sample_residents
from exchange.sources.inprocess_source import InProcessSource
from demo.distinct_draws import Scrambled, SlotDraws
from demo.population import REFERENCE_DATE, build_population, iter_population
from demo.records import BUILDERS
from exchange.sources.records import RecordsDatabaseWriter, StoredRecord, department_database, read_dataset


def records_of(folder: Path, proof: Proof) -> Iterator[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(department_database(folder, proof.department)) as connection:
        for subject_id, record in connection.execute(
            "SELECT subject_id, record FROM records WHERE proof_code = ? ORDER BY subject_id", (proof.code,)
        ):
            yield subject_id, json.loads(record)


@pytest.fixture(scope="module")
def records(demo_folder: Path, catalog: Catalog) -> dict[str, dict[str, dict[str, Any]]]:
    """Every demo record: proof code -> subject id -> record."""
    return {proof.code: dict(records_of(demo_folder, proof)) for proof in pulled_proofs(catalog)}


def test_the_generated_databases_are_recognised(demo_folder: Path, catalog: Catalog, tmp_path: Path) -> None:
    assert demo_sources_exist(demo_folder, catalog)
    assert not demo_sources_exist(tmp_path, catalog)


def test_ten_thousand_residents_with_valid_id_numbers(records: dict[str, dict[str, dict[str, Any]]]) -> None:
    residents = records["NO_HOUSING"]  # the registry answers a search for everyone
    assert len(residents) >= 10_000
    regions = Counter(parse_id_number(number).region_code for number in residents)
    assert {"330702", "330703", "330723", "330726", "330727", "330781", "330782", "330783", "330784"} <= set(regions)
    assert sum(count for region, count in regions.items() if region.startswith("3307")) > 0.85 * len(residents)
    births = [parse_id_number(number).birth_date for number in residents]
    assert {1940, 1950, 1960, 1970, 1980, 1990, 2000, 2010, 2020} <= {birth.year // 10 * 10 for birth in births}
    assert min(births).year <= 1938 and max(births).year == 2026  # ages 0 to 88 and over


def test_every_record_matches_the_catalog(records: dict[str, dict[str, dict[str, Any]]], catalog: Catalog) -> None:
    from exchange.sources.values import record_problems

    for code, held in records.items():
        proof = catalog.proofs[code]
        assert held, f"no records of {code}"
        for subject_id, record in held.items():
            assert record_problems(proof, record) == [], code
            assert list(record) == [item.name for item in proof.data_items]
            if proof.subject is Subject.PERSON:
                parse_id_number(subject_id)


def test_every_enum_value_and_both_booleans_occur(records: dict[str, dict[str, dict[str, Any]]], catalog: Catalog) -> None:
    seen: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for code, held in records.items():
        for record in held.values():
            for name, value in record.items():
                for element in value if isinstance(value, list) else [value]:
                    if not isinstance(element, dict):
                        seen[(code, name)].add(element)
    for code in records:
        for item in catalog.proofs[code].data_items:
            if item.type is ItemType.ENUM or item.type is ItemType.LIST and item.values:
                assert set(item.values) <= seen[(code, item.name)], f"{code}.{item.name}"
            if item.type is ItemType.BOOLEAN:
                assert seen[(code, item.name)] == {True, False}, f"{code}.{item.name}"


def test_every_pulled_proof_can_come_out_both_ways(records: dict[str, dict[str, dict[str, Any]]], catalog: Catalog) -> None:
    residents = set(records["NO_HOUSING"])
    for code, held in records.items():
        proof = catalog.proofs[code]
        booleans = [item.name for item in proof.data_items if item.type is ItemType.BOOLEAN]
        two_ways = any(len({record[name] for record in held.values()}) == 2 for name in booleans)
        some_without = proof.subject is Subject.ORGANISATION or bool(residents - set(held))
        assert two_ways or some_without, code


def test_shares_are_plausible(records: dict[str, dict[str, dict[str, Any]]]) -> None:
    residents = len(records["NO_HOUSING"])
    owners = sum(record["has_registered_property"] for record in records["NO_HOUSING"].values())
    assert 0.3 < owners / residents < 0.6  # most households own; children and many elders hold nothing themselves
    criminal = sum(record["has_criminal_record"] for record in records["NO_CRIMINAL_RECORD"].values())
    assert 0 < criminal / residents < 0.02
    assert 0.01 < len(records["DISABILITY"]) / residents < 0.06
    assert 0.01 < len(records["MINIMUM_LIVING"]) / residents < 0.08
    assert 0 < len(records["DEATH_MEDICAL"]) / residents < 0.03


def test_families_are_consistent(records: dict[str, dict[str, dict[str, Any]]]) -> None:
    marriages = records["MARITAL_STATUS"]
    deceased = records["DEATH_MEDICAL"]
    for subject_id, record in marriages.items():
        if record["marital_status"] == "married":
            spouse = marriages[record["spouse_id_number"]]
            if subject_id in deceased:  # the record as it stood at death; the survivor is widowed
                assert spouse["marital_status"] == "widowed"
                continue
            assert spouse["spouse_id_number"] == subject_id
            assert spouse["registration_date"] == record["registration_date"]
        else:
            assert record["spouse_id_number"] is None
    for subject_id, record in records["HOUSEHOLD_BOOK"].items():
        assert subject_id in {member["id_number"] for member in record["members"]}
        assert record["household_head"] == records["HOUSEHOLD_REGISTRATION"][subject_id]["household_head"]
    for subject_id in records["DEATH_MEDICAL"]:
        if subject_id in records["HOUSEHOLD_REGISTRATION"]:
            assert records["HOUSEHOLD_REGISTRATION"][subject_id]["hukou_status"] == "cancelled"
    for subject_id, record in records["MINIMUM_LIVING"].items():
        assert records["NO_HOUSING"][subject_id]["has_registered_property"] is False
    for subject_id, record in records["BIRTH_MEDICAL"].items():
        assert parse_id_number(record["mother_id_number"]).gender == "female"
        assert parse_id_number(record["father_id_number"]).gender == "male"


def _digests(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.db"))}


def test_same_seed_same_data_and_rewriting_is_idempotent(catalog: Catalog, tmp_path: Path) -> None:
    snapshot = datetime(2026, 11, 1, 2, 0, tzinfo=timezone(timedelta(hours=8)))
    generate_demo_sources(tmp_path / "a", catalog, residents=300, seed=7, snapshot_at=snapshot)
    generate_demo_sources(tmp_path / "b", catalog, residents=300, seed=7, snapshot_at=snapshot)
    first = _digests(tmp_path / "a")
    assert first == _digests(tmp_path / "b")
    generate_demo_sources(tmp_path / "a", catalog, residents=300, seed=7, snapshot_at=snapshot)
    assert _digests(tmp_path / "a") == first
    generate_demo_sources(tmp_path / "c", catalog, residents=300, seed=8, snapshot_at=snapshot)
    assert _digests(tmp_path / "c") != first


def test_the_data_is_current_as_of_its_generation(catalog: Catalog, demo_folder: Path) -> None:
    dataset = read_dataset(demo_folder / "BDC.db")
    assert dataset is not None
    assert datetime.now(timezone.utc) - datetime.fromisoformat(dataset["as_of"]) < timedelta(hours=6)


def test_sample_residents_come_out_both_ways(demo_folder: Path, catalog: Catalog) -> None:
    without, owner, *others = sample_residents(demo_folder, 8)
    assert without.description.startswith("无房") and owner.description.startswith("有房")
    assert len(others) == 6 and all(resident.id_number for resident in others)
    source = InProcessSource("BDC", department_database(demo_folder, "BDC"), catalog)
    try:
        assert source.query("NO_HOUSING", without.id_number, without.name).record["has_registered_property"] is False
        assert source.query("NO_HOUSING", owner.id_number, owner.name).record["has_registered_property"] is True
    finally:
        source.close()
    assert sample_residents(demo_folder, 2) == [without, owner]


def test_a_city_read_in_runs_makes_the_same_records_as_read_at_once(catalog: Catalog) -> None:
    """The generator hands the city out a few households at a time; every number derived from a
    position (search, certificate and filing numbers) must not depend on where a run starts."""
    whole = build_population(7, 300)
    runs = list(iter_population(7, 300, households_per_run=7))
    assert len(runs) > 10
    for proof in pulled_proofs(catalog):
        at_once = list(BUILDERS[proof.code](whole))
        in_runs = [row for run in runs for row in BUILDERS[proof.code](run)]
        assert in_runs == at_once, proof.code
    assert [b.uscc for run in runs for b in run.businesses] == [b.uscc for b in whole.businesses]


def test_id_numbers_and_credit_codes_are_unique_and_valid_without_a_record_of_those_given_out() -> None:
    """Nothing remembers the numbers given out: every resident's and every outside parent's ID
    number is valid, encodes the person's birth date and sex and belongs to one person only;
    every credit code is valid and unique."""
    people: dict[str, tuple[str, str]] = {}  # ID number -> (name, birth date or, for an outside parent, "")
    credit_codes: set[str] = set()
    for run in iter_population(11, 30_000):
        for business in run.businesses:
            assert parse_uscc(business.uscc).code not in credit_codes
            credit_codes.add(business.uscc)
        for person in run.people:
            encoded = parse_id_number(person.id_number, today=REFERENCE_DATE)
            assert (encoded.birth_date, encoded.gender.value) == (person.birth, person.gender)
            assert person.id_number not in people or people[person.id_number][1] == "", person.id_number
            people[person.id_number] = (person.name, person.birth.isoformat())
        for name, number in (parent for person in run.people for parent in (person.father, person.mother) if parent):
            parse_id_number(number, today=REFERENCE_DATE)
            assert people.setdefault(number, (name, ""))[0] == name, number  # siblings share their parents
    assert len(people) > 30_000 and len(credit_codes) > 1_200


def test_slot_draws_give_every_pair_of_a_key_once_then_refuse() -> None:
    """A key's (day, slot) pairs never repeat, also once its days have come round (a city where
    more people of one region, sex and age than days in a year share a birth date)."""
    draws = SlotDraws("seed", 4, 3)
    pairs = [draws.next(("330702", "male", 30)) for _ in range(12)]
    assert sorted(pairs) == [(day, slot) for day in range(1, 5) for slot in range(1, 4)]
    with pytest.raises(ValueError):
        draws.next(("330702", "male", 30))
    assert draws.next(("330702", "female", 30)) in pairs  # another key has pairs of its own
    scrambled = Scrambled("seed", 31 ** 2)
    assert sorted(scrambled[number] for number in range(31 ** 2)) == list(range(31 ** 2))


def test_a_generation_that_fails_halfway_leaves_the_databases_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "BDC.db"
    first = StoredRecord("NO_HOUSING", "330702199001010011", "甲", {"n": 1}, datetime.now(timezone.utc))
    with RecordsDatabaseWriter(path, {"generator": "test"}) as writer:
        writer.add([first])
    before = path.read_bytes()
    with pytest.raises(RuntimeError), RecordsDatabaseWriter(path, {"generator": "test"}) as writer:
        writer.add([replace(first, subject_id="330702199001010038")])
        raise RuntimeError("the generator stopped")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BDC.db"]
