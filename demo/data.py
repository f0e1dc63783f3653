"""The demo source departments: `generate_demo_sources` writes every source department's
records database for a deterministic demo population (demo_population.py, demo_records.py),
`demo_sources_exist` tells whether they are there, `sample_residents` picks a few demo
residents to try the exchange with (a household without property, one with property ...) and
`demo_households` whole households to try the matter handlers with.

Same seed and size, same data: re-running rewrites identical databases. Each database
also records the seed and size it was made from (its `dataset` table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from catalog.model import Catalog, Proof
from exchange.sources.contract import pulled_proofs
from demo.population import Person, Population, build_population, iter_population
from demo.records import BUILDERS
from exchange.sources.records import RecordsDatabaseWriter, StoredRecord, department_database, read_dataset
from exchange.sources.values import json_value

DEFAULT_RESIDENTS = 10_000
DEFAULT_SEED = 20261121
GENERATOR_NAME = "mianzheng demo data"
GENERATOR = f"{GENERATOR_NAME} 2"
"""Recorded with the data: another version draws other people from the same seed."""


class DemoDataMissing(LookupError):
    """The demo source databases have not been generated in this folder."""


def generate_demo_sources(
    folder: Path, catalog: Catalog, residents: int = DEFAULT_RESIDENTS, seed: int = DEFAULT_SEED,
    snapshot_at: datetime | None = None,
) -> dict[str, int]:
    """Write `<folder>/<DEPT>.db` for every department holding a pulled proof; returns the
    number of records written per department. ValueError if the catalog has a pulled proof
    the generator knows nothing of, or data items it does not produce.

    The people depend only on `seed` and `residents`; `snapshot_at` (default: now, to the
    second) is when the departments' data is current, so answers and certificates issued from
    freshly generated demo data are current too."""
    stamp = (snapshot_at or datetime.now(timezone.utc)).replace(microsecond=0)
    proofs = pulled_proofs(catalog)
    unknown = [proof.code for proof in proofs if proof.code not in BUILDERS]
    if unknown:
        raise ValueError(f"the demo data has no records for proof {unknown[0]}")
    dataset = {"generator": GENERATOR, "seed": str(seed), "residents": str(residents), "as_of": stamp.isoformat()}
    with ExitStack() as stack:  # every database is put in place at the end, or none
        writers = {department: stack.enter_context(RecordsDatabaseWriter(department_database(folder, department), dataset))
                   for department in sorted({proof.department for proof in proofs})}
        for run in iter_population(seed, residents):
            run = replace(run, snapshot_at=stamp)
            for proof in proofs:
                writers[proof.department].add(_records(proof, run))
    return {department: writer.written for department, writer in writers.items()}


def _records(proof: Proof, run: Population) -> Iterator[StoredRecord]:
    """The records of `proof` about a run of the population, as the catalog describes them."""
    names = {item.name for item in proof.data_items}
    for subject_id, subject_name, values in BUILDERS[proof.code](run):
        if set(values) != names:
            raise ValueError(f"the demo records of {proof.code} do not have the catalog's data items")
        record = {item.name: json_value(item, values[item.name]) for item in proof.data_items}
        yield StoredRecord(proof.code, subject_id, subject_name, record, run.snapshot_at)


def demo_sources_exist(folder: Path, catalog: Catalog) -> bool:
    """Whether every department holding a pulled proof has its records database in `folder`."""
    departments = {proof.department for proof in pulled_proofs(catalog)}
    return all(read_dataset(department_database(folder, department)) is not None for department in departments)


@dataclass(frozen=True)
class DemoResident:
    """A demo resident to try the exchange with; `household_no` is None for migrants."""

    name: str
    id_number: str
    household_no: str | None
    description: str


def sample_residents(folder: Path, count: int = 4) -> list[DemoResident]:
    """`count` demo residents of the data in `folder`, the first of each situation in turn:
    a married head of household without property (无房), one with property (有房), a
    minimum-living household, a disability, a criminal record, a migrant, a newborn, the
    deceased. DemoDataMissing if no demo data is there."""
    return list(_sample_residents(*_dataset_of(folder), count))


@lru_cache(maxsize=8)
def _sample_residents(seed: int, residents: int, count: int) -> tuple[DemoResident, ...]:
    """Reads the population only as far as `count` people of every situation are found."""
    found: list[list[DemoResident]] = [[] for _ in _SITUATIONS]
    for run in iter_population(seed, residents):
        for person in run.people:
            for matches, (describe, test) in zip(found, _SITUATIONS):
                if len(matches) < count and test(person):
                    description = describe(person) if callable(describe) else describe
                    matches.append(DemoResident(person.name, person.id_number, person.household.number, description))
        if all(len(matches) == count for matches in found):
            break
    in_turn = [matches[turn] for turn in range(count) for matches in found if turn < len(matches)]
    return tuple(in_turn[:count])


def demo_population(folder: Path) -> Population:
    """The whole population the demo data in `folder` was generated from, built once per
    process (for a small city: the demo library's); DemoDataMissing if none is there."""
    return _population(*_dataset_of(folder))


def demo_dataset(folder: Path) -> dict[str, str]:
    """What the demo data in `folder` was generated from and when (generator, seed, residents,
    as_of): generating it again makes a new one. DemoDataMissing if none is there."""
    dataset = next((found for found in _datasets(folder) if found.get("generator") == GENERATOR), None)
    if dataset is None:
        raise DemoDataMissing(f"no demo source data in {folder}: run `mianzheng demo generate`")
    return dataset


def outdated_dataset(folder: Path) -> dict[str, str] | None:
    """The dataset of demo data in `folder` made by an earlier version of the generator, when
    the folder holds none of this version: its seed and size make the same city again."""
    datasets = _datasets(folder)
    if any(found.get("generator") == GENERATOR for found in datasets):
        return None
    return next((found for found in datasets if found.get("generator", "").startswith(GENERATOR_NAME)), None)


def _datasets(folder: Path) -> list[dict[str, str]]:
    return [found for found in map(read_dataset, sorted(folder.glob("*.db"))) if found]


def _dataset_of(folder: Path) -> tuple[int, int]:
    """The seed and size of the demo data in `folder`; DemoDataMissing if none is there."""
    dataset = demo_dataset(folder)
    return int(dataset["seed"]), int(dataset["residents"])


@lru_cache(maxsize=2)
def _population(seed: int, residents: int) -> Population:
    return build_population(seed, residents)


def _household_without_property(person: Person) -> bool:
    household = person.household
    return (person.relation == "head" and person.marital == "married" and household.migrant_region is None
            and household.assistance is None and not any(member.properties for member in household.members)
            and all(member.alive for member in household.members))


def _owner(person: Person) -> bool:
    return person.relation == "head" and person.household.migrant_region is None and person.property_count > 0


_SITUATIONS: tuple[tuple[str | Callable[[Person], str], Callable[[Person], bool]], ...] = (
    (lambda p: f"无房：户主，已婚，{len(p.household.members)} 口之家均无不动产登记", _household_without_property),
    (lambda p: f"有房：户主，登记不动产 {p.property_count} 套", _owner),
    ("低保：户主，家庭在保", lambda p: p.relation == "head" and bool(p.household.assistance and p.household.assistance[1])),
    ("持残疾人证", lambda p: p.alive and p.disability is not None and p.age >= 18),
    ("有犯罪记录", lambda p: p.alive and p.criminal_record),
    ("流动人口：户籍在外省，持居住证", lambda p: p.alive and p.household.migrant_region is not None and p.age >= 18),
    ("新生儿：有出生医学证明", lambda p: p.age == 0 and p.household.migrant_region is None and p.father is not None),
    ("已故：有死亡医学证明，户口已注销", lambda p: not p.alive),
)


@dataclass(frozen=True)
class DemoMember:
    name: str
    id_number: str
    relation: str
    """As in HOUSEHOLD_REGISTRATION's relation_to_head: head, spouse, child, parent ..."""
    age: int
    marital_status: str
    """As civil affairs holds it: unmarried, married, divorced or widowed."""
    spouse_id_number: str | None


@dataclass(frozen=True)
class DemoHousehold:
    """A living demo household, head first, with what a caseworker would know of it."""

    number: str | None
    situation: str
    description: str
    members: tuple[DemoMember, ...]
    monthly_income_per_person: Decimal
    """Per person and month over the household's living members, as civil affairs checks it."""

    @property
    def head(self) -> DemoMember:
        return self.members[0]


HOUSEHOLD_SITUATIONS = {
    "public_housing_eligible": "无房低收入：全家无不动产登记，人均月收入低于公租房收入线",
    "owner": "有房：家庭成员名下有不动产登记",
    "tenant": "公租房在租户",
    "minimum_living": "低保在保户",
    "newborn": "有新生儿（出生医学证明已签发）的本市户籍家庭",
    "school_age": "有适龄入学子女（6 岁）的本市户籍家庭",
    "graduate": "户主有高校学历、无犯罪记录",
    "criminal_record": "户主有犯罪记录",
}


def demo_households(folder: Path, catalog: Catalog, situation: str, count: int | None = None) -> list[DemoHousehold]:
    """Demo households of a situation (a key of HOUSEHOLD_SITUATIONS), in population order; the
    income line is the catalog's city constant. DemoDataMissing if no demo data is there;
    KeyError for an unknown situation."""
    line = Decimal(str(catalog.city["public_housing_income_line_monthly"].value))
    return list(_demo_households(*_dataset_of(folder), line, situation, count))


@lru_cache(maxsize=32)
def _demo_households(seed: int, residents: int, line: Decimal, situation: str,
                     count: int | None) -> tuple[DemoHousehold, ...]:
    """Reads the population only as far as `count` households are found."""
    describe = HOUSEHOLD_SITUATIONS[situation]
    found: list[DemoHousehold] = []
    for household in (household for run in iter_population(seed, residents) for household in run.households):
        living = [person for person in household.members if person.alive and person.hukou_status != "moved_out"]
        if not living or living[0] is not household.head:
            continue
        income = (sum((person.annual_income for person in living), Decimal(0)) / 12 / len(living)).quantize(Decimal("1.00"))
        owns = any(person.properties for person in living)
        matches = {
            "public_housing_eligible": not owns and not household.public_housing and household.migrant_region is None
            and income < line,
            "owner": owns and household.migrant_region is None,
            "tenant": household.public_housing,
            "minimum_living": bool(household.assistance and household.assistance[1]),
            "newborn": household.migrant_region is None
            and any(p.age == 0 and p.relation == "child" and p.father is not None for p in living),
            "school_age": household.migrant_region is None and any(p.age == 6 and p.relation == "child" for p in living),
            "graduate": household.migrant_region is None and living[0].education is not None
            and not living[0].criminal_record,
            "criminal_record": living[0].criminal_record,
        }[situation]
        if matches:
            members = tuple(DemoMember(person.name, person.id_number, person.relation, person.age, person.marital,
                                       person.spouse.id_number if person.marital == "married" and person.spouse else None)
                            for person in living)
            found.append(DemoHousehold(household.number, situation, f"{describe}，{len(members)} 口人", members, income))
            if count is not None and len(found) == count:
                break
    return tuple(found)

