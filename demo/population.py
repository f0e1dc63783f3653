"""The demo city's residents, made up deterministically from a seed: households of 2-5
people (couples, children, elders, grandchildren left with grandparents, siblings), each
person with a valid ID number, a Chinese name, hukou, marriage, work, income, property,
and the rarer facts (disability, a criminal record, minimum-living assistance, death).

One `random.Random(seed)` drawn in a fixed order makes every run with the same seed give
the same people; each company is drawn from a stream of its own, so it is the same whenever it
is made. `iter_population` hands them out a run at a time, so a city of a million residents is
made in bounded memory: ID numbers and credit codes are unique by construction
(`demo.distinct_draws`), not by remembering every one given out, and no company is kept (an
employee's is made again from its number). demo_records.py turns each run into the departments'
records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from itertools import accumulate
from decimal import Decimal

from catalog.citizen_id import id_check_char
from catalog.city_time import BEIJING
from catalog.credit_code import complete_uscc
from demo.distinct_draws import Scrambled, SlotDraws
from demo.vocabulary import (
    BRAND_WORDS,
    COLLEGES,
    DISTRICTS,
    GIVEN_ANY,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MAJORS,
    MIGRANT_REGIONS,
    SURNAMES,
    UNIVERSITIES,
    VACCINES,
    District,
)

REFERENCE_DATE = date(2026, 11, 1)
"""The demo data describes the city as of this day (its records' `as_of` is 02:00 that day)."""

MALE, FEMALE = "male", "female"
USCC_BODY_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
EMPLOYER_TYPES = ("limited_company", "joint_stock_company")
BIRTH_DAYS, SEQUENCE_SLOTS = 364, 499
"""An ID number's birth date lies 1-364 days before its holder's last birthday-ish day of the
year of age (`_birth`); its sequence code is 2 × slot - 1 for a man, 2 × slot for a woman."""


@dataclass(eq=False)
class Business:
    """An enterprise or individual business registered with market supervision."""

    uscc: str
    name: str
    entity_type: str
    district: District
    address: str
    legal_representative: str
    registered_capital: str
    established: date
    status: str


@dataclass(eq=False)
class Property:
    """A registered real-estate title; `holders` are residents (the first is the applicant)."""

    number: int
    district: District
    holders: list[Person]
    co_ownership: str
    location: str
    usage: str
    area: Decimal
    registered_at: date


@dataclass(eq=False)
class Person:
    id_number: str
    name: str
    gender: str
    birth: date
    household: Household
    relation: str
    hukou_status: str = "normal"
    died_at: datetime | None = None
    marital: str = "unmarried"
    spouse: Person | None = None
    marriage_date: date | None = None
    divorce_date: date | None = None
    father: tuple[str, str] | None = None  # (name, ID number), a resident or not
    mother: tuple[str, str] | None = None
    employment: str = "child"  # child, student, employed, flexible, unemployed, retired
    employer: Business | None = None
    own_business: Business | None = None
    job_start: date | None = None
    annual_income: Decimal = Decimal(0)
    insured: bool = False
    properties: list[Property] = field(default_factory=list)
    property_count: int = 0
    disability: tuple[str, str, date] | None = None  # category, grade, issued
    criminal_record: bool = False
    education: tuple[str, str, str, str, date] | None = None  # level, school code, school, major, graduated
    missing_vaccines: tuple[str, ...] = ()

    @property
    def age(self) -> int:
        return _years_between(self.birth, REFERENCE_DATE)

    @property
    def alive(self) -> bool:
        return self.died_at is None


@dataclass(eq=False)
class Household:
    """A household. Migrants (hukou elsewhere) have no 户号 in the city."""

    number: str | None
    district: District
    address: str
    street: str
    migrant_region: str | None
    members: list[Person] = field(default_factory=list)
    poor: bool = False
    assistance: tuple[str, bool, date] | None = None  # type, active, since
    lease: tuple[date, date] | None = None
    public_housing: bool = False

    @property
    def head(self) -> Person:
        return self.members[0]


@dataclass(frozen=True)
class Population:
    """The city's households and businesses, or a run of them (`iter_population`): the offsets
    say where the run starts in the whole city, so numbers derived from a position are the same
    whichever way the city is read."""

    households: tuple[Household, ...]
    businesses: tuple[Business, ...]
    reference_date: date
    """The day ages, careers and records are computed for (fixed, so a seed gives the same people)."""
    snapshot_at: datetime
    """When the departments' data is current: searches and checks are stamped with it."""
    first_household: int = 0
    """How many households of the city come before this run."""
    first_person: int = 0
    """How many people (living or not) come before this run."""
    first_living: int = 0
    """How many living people come before this run."""

    @property
    def people(self) -> list[Person]:
        return [person for household in self.households for person in household.members]


def _years_between(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _digits(value: int, alphabet: str, width: int) -> str:
    """`value` written with `width` digits in base len(alphabet)."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(reversed(digits))


def _birth(age: int, day: int) -> date:
    """The birth date `day` (1-364) days before the start of the `age`-th year back: different
    ages and days give different dates."""
    return date.fromordinal(REFERENCE_DATE.toordinal() - age * 365 - age // 4 - day)


class _Maker:
    """Draws the population; every method consumes the one random stream in a fixed order."""

    def __init__(self, seed: int, companies: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.id_slots = SlotDraws(f"{seed}/id numbers", BIRTH_DAYS, SEQUENCE_SLOTS)
        self.credit_codes = Scrambled(f"{seed}/credit codes", len(USCC_BODY_ALPHABET) ** 6)
        self.surnames = [name for name, _ in SURNAMES]
        self.surname_weights = list(accumulate(weight for _, weight in SURNAMES))  # cumulative: drawn from often
        self.district_weights = list(accumulate(district.weight for district in DISTRICTS))
        self.property_numbers = 0
        self.companies = companies
        self.businesses = companies  # individual businesses are numbered after the companies

    # --- identities -------------------------------------------------------------------

    def district(self) -> District:
        return self.rng.choices(DISTRICTS, cum_weights=self.district_weights)[0]

    def surname(self) -> str:
        return self.rng.choices(self.surnames, cum_weights=self.surname_weights)[0]

    def given_name(self, gender: str) -> str:
        pool = GIVEN_MALE if gender == MALE else GIVEN_FEMALE
        if self.rng.random() < 0.3:
            return self.rng.choice(pool)
        first = self.rng.choice(GIVEN_ANY) if self.rng.random() < 0.4 else self.rng.choice(pool)
        return first + self.rng.choice(pool)

    def birth_for_age(self, age: int) -> date:
        return max(_birth(age, self.rng.randrange(1, BIRTH_DAYS + 1)), date(1900, 1, 1))

    def identity(self, gender: str, age: int, region: str, surname: str | None = None) -> tuple[str, str, date]:
        """(name, ID number, birth date) of someone not necessarily a resident. The birth day
        and sequence slot are the next unused pair of this region, sex and age, so the number
        is unique by construction."""
        day, slot = self.id_slots.next((region, gender, age))
        birth = _birth(age, day)
        first17 = f"{region}{birth:%Y%m%d}{slot * 2 - (1 if gender == MALE else 0):03d}"
        name = (surname or self.surname()) + self.given_name(gender)
        return name, first17 + id_check_char(first17), birth

    def person(self, household: Household, relation: str, gender: str, age: int, surname: str | None = None,
               region: str | None = None) -> Person:
        region = region or household.migrant_region or (
            household.district.code if self.rng.random() < 0.7 else self.district().code
        )
        name, number, birth = self.identity(gender, max(0, age), region, surname)
        person = Person(id_number=number, name=name, gender=gender, birth=birth, household=household,
                        relation=relation)
        household.members.append(person)
        return person

    # --- families ---------------------------------------------------------------------

    def marry(self, head: Person, spouse: Person) -> None:
        younger = max(head.birth, spouse.birth)
        earliest = younger.toordinal() + 22 * 365
        latest = min(younger.toordinal() + 32 * 365, REFERENCE_DATE.toordinal() - 60)
        married = date.fromordinal(self.rng.randint(min(earliest, latest), latest))
        for one, other in ((head, spouse), (spouse, head)):
            one.marital, one.spouse, one.marriage_date = "married", other, married

    def couple(self, household: Household, head_age: int) -> tuple[Person, Person]:
        head_gender = MALE if self.rng.random() < 0.8 else FEMALE
        head = self.person(household, "head", head_gender, head_age)
        spouse_age = max(20, head_age + self.rng.randint(-5, 3) * (1 if head_gender == MALE else -1))
        spouse = self.person(household, "spouse", FEMALE if head_gender == MALE else MALE, spouse_age)
        self.marry(head, spouse)
        return head, spouse

    def children(self, household: Household, relation: str, father: tuple[str, str], mother: tuple[str, str],
                 surname: str, oldest_possible: int, count: int) -> list[Person]:
        made = []
        for _ in range(count):
            if oldest_possible < 0:
                break
            age = self.rng.randint(max(0, oldest_possible - 12), oldest_possible)  # born in the first years
            child = self.person(household, relation, self.rng.choice((MALE, FEMALE)), age, surname=surname)
            child.father, child.mother = father, mother
            made.append(child)
        return made

    def own_children(self, household: Household, head: Person, spouse: Person, count: int) -> list[Person]:
        father, mother = (head, spouse) if head.gender == MALE else (spouse, head)
        assert head.marriage_date is not None
        oldest = min(_years_between(head.marriage_date, REFERENCE_DATE), mother.age - 20, 45)
        return self.children(household, "child", (father.name, father.id_number), (mother.name, mother.id_number),
                             self.surname_of(father.name), oldest, count)

    def surname_of(self, name: str) -> str:
        return name[:2] if name[:2] in self.surnames else name[0]

    def outsider(self, gender: str, age: int, surname: str | None = None) -> tuple[str, str]:
        name, number, _birth = self.identity(gender, age, self.district().code, surname)
        return name, number

    def household(self, number: int) -> Household:
        migrant = self.rng.random() < 0.08
        district = self.district()
        street = self.rng.choice(district.streets)
        address = (f"{district.address_prefix}{street}{self.rng.choice(district.roads)}{self.rng.randint(1, 999)}号"
                   f"{self.rng.randint(1, 30)}幢{self.rng.randint(1, 4)}单元{self.rng.randint(1, 28)}{self.rng.randint(1, 4):02d}室")
        household = Household(
            number=None if migrant else f"{330000000 + number * 13 + self.rng.randrange(13)}",
            district=district, address=address, street=street,
            migrant_region=self.rng.choice(MIGRANT_REGIONS)[0] if migrant else None,
        )
        templates = (self.couple_only, self.couple_with_children, self.three_generations, self.single_parent,
                     self.elder_with_child, self.grandparents_with_grandchildren, self.siblings_with_grandparent,
                     self.couple_with_other)
        weights = (14, 34, 16, 7, 8, 6, 3, 2) if not migrant else (30, 70, 0, 0, 0, 0, 0, 0)
        self.rng.choices(templates, weights)[0](household)
        return household

    def couple_only(self, household: Household) -> None:
        self.couple(household, self.rng.randint(24, 85))

    def couple_with_children(self, household: Household) -> None:
        head, spouse = self.couple(household, self.rng.randint(26, 58))
        children = self.own_children(household, head, spouse, self.rng.choices((1, 2, 3), (55, 38, 7))[0])
        for child in children:
            if child.age >= 18 and self.rng.random() < 0.08:
                child.hukou_status = "moved_out"

    def three_generations(self, household: Household) -> None:
        head, spouse = self.couple(household, self.rng.randint(30, 56))
        one_elder = self.rng.random() < 0.4
        self.own_children(household, head, spouse, 2 if one_elder and self.rng.random() < 0.5 else 1)
        father_age = min(95, head.age + self.rng.randint(24, 32))
        surname = self.surname_of(head.name)
        elders = [self.person(household, "parent", MALE, father_age, surname=surname),
                  self.person(household, "parent", FEMALE, father_age - self.rng.randint(0, 4))]
        if one_elder:
            survivor = elders[self.rng.randrange(2)]
            household.members.remove(elders[1] if survivor is elders[0] else elders[0])
            survivor.marital = "widowed"
            survivor.marriage_date = self.birth_for_age(survivor.age - 24)
        else:
            self.marry(*elders)

    def single_parent(self, household: Household) -> None:
        gender = FEMALE if self.rng.random() < 0.65 else MALE
        head = self.person(household, "head", gender, self.rng.randint(26, 58))
        other = self.outsider(MALE if gender == FEMALE else FEMALE, head.age + self.rng.randint(-3, 3))
        head.marriage_date = self.birth_for_age(min(head.age - 22, 40)) if head.age > 22 else None
        divorced = self.rng.random() < 0.7
        head.marital = "divorced" if divorced else "widowed"
        if divorced:
            head.divorce_date = self.birth_for_age(self.rng.randint(0, max(0, min(10, head.age - 24))))
        parents = ((head.name, head.id_number), other) if gender == MALE else (other, (head.name, head.id_number))
        surname = self.surname_of(parents[0][0])
        self.children(household, "child", parents[0], parents[1], surname, min(head.age - 21, 30),
                      self.rng.choices((1, 2), (70, 30))[0])
        if len(household.members) < 2:
            self.children(household, "child", parents[0], parents[1], surname, 0, 1)

    def elder_with_child(self, household: Household) -> None:
        age = self.rng.randint(55, 85)
        if self.rng.random() < 0.6:
            head, spouse = self.couple(household, age)
            father, mother = (head, spouse) if head.gender == MALE else (spouse, head)
            parents = ((father.name, father.id_number), (mother.name, mother.id_number))
        else:
            head = self.person(household, "head", self.rng.choice((MALE, FEMALE)), age)
            head.marital, head.marriage_date = "widowed", self.birth_for_age(age - 24)
            late = self.outsider(FEMALE if head.gender == MALE else MALE, age)
            parents = ((head.name, head.id_number), late) if head.gender == MALE else (late, (head.name, head.id_number))
        child = self.children(household, "child", parents[0], parents[1], self.surname_of(parents[0][0]),
                              min(40, age - 20), 1)[0]
        if child.age >= 25 and self.rng.random() < 0.1:
            child.marital, child.marriage_date = "divorced", self.birth_for_age(max(0, child.age - 24))
            child.divorce_date = self.birth_for_age(self.rng.randint(0, max(0, child.age - 25)))

    def grandparents_with_grandchildren(self, household: Household) -> None:
        head, _spouse = self.couple(household, self.rng.randint(55, 80))
        surname = self.surname_of(head.name)
        father = self.outsider(MALE, head.age - self.rng.randint(24, 30), surname)
        mother = self.outsider(FEMALE, head.age - self.rng.randint(24, 32))
        self.children(household, "grandchild", father, mother, surname, min(15, head.age - 46),
                      self.rng.choices((1, 2), (70, 30))[0])
        if len(household.members) < 3:
            self.children(household, "grandchild", father, mother, surname, 0, 1)

    def siblings_with_grandparent(self, household: Household) -> None:
        head = self.person(household, "head", self.rng.choice((MALE, FEMALE)), self.rng.randint(20, 35))
        surname = self.surname_of(head.name)
        self.person(household, "sibling", self.rng.choice((MALE, FEMALE)), self.rng.randint(16, 35), surname=surname)
        grandparent = self.person(household, "grandparent", self.rng.choice((MALE, FEMALE)),
                                  min(95, head.age + self.rng.randint(45, 55)))
        grandparent.marital, grandparent.marriage_date = "widowed", self.birth_for_age(grandparent.age - 23)

    def couple_with_other(self, household: Household) -> None:
        head, spouse = self.couple(household, self.rng.randint(30, 55))
        self.own_children(household, head, spouse, 1)
        self.person(household, "other", self.rng.choice((MALE, FEMALE)), self.rng.randint(20, 60))

    # --- lives ------------------------------------------------------------------------

    def deaths(self, household: Household) -> None:
        for person in household.members[1:]:
            if person.age >= 60 and self.rng.random() < 0.06:
                died = REFERENCE_DATE.toordinal() - self.rng.randint(20, 3 * 365)
                person.died_at = datetime.combine(date.fromordinal(died), time(self.rng.randrange(24), self.rng.randrange(60)),
                                                  BEIJING)
                person.hukou_status = "cancelled"
                if person.spouse is not None and person.spouse.alive:
                    person.spouse.marital, person.spouse.spouse = "widowed", None

    def work(self, household: Household, businesses: list[Business]) -> None:
        """Employment, employer or own business, income and insurance of each member."""
        for person in household.members:
            retirement_age = 60 if person.gender == MALE else 55
            if person.age < 16:
                continue
            if person.age < 23 and (person.age < 18 or self.rng.random() < 0.6):
                person.employment = "student"
            elif person.age >= retirement_age:
                person.employment = "retired"
                person.insured = self.rng.random() < 0.8
                person.annual_income = Decimal(self.rng.randint(24, 60) * 1000 if person.insured else self.rng.randint(3, 10) * 1000)
            elif household.poor:
                person.employment = self.rng.choice(("unemployed", "flexible"))
            else:
                person.employment = self.rng.choices(("employed", "flexible", "unemployed"), (80, 12, 8))[0]
            if person.employment == "employed":
                if self.rng.random() < 0.06:
                    person.own_business = self.business(person.household.district, person.name, self.businesses,
                                                        individual=True)
                    self.businesses += 1
                    businesses.append(person.own_business)
                else:
                    person.employer = self.employer()
                person.annual_income = Decimal(max(30000, int(self.rng.lognormvariate(11.15, 0.45)) // 100 * 100))
                person.insured = True
            elif person.employment == "flexible":
                person.annual_income = Decimal(self.rng.randint(8, 20) * 1000 if household.poor else self.rng.randint(25, 60) * 1000)
                person.insured = self.rng.random() < 0.7
            if person.employment != "student":
                start_age = min(person.age, self.rng.randint(18, 26))
                person.job_start = date(min(person.birth.year + start_age, REFERENCE_DATE.year - 1), self.rng.randint(1, 12), 1)
                if person.employment == "unemployed":
                    person.insured = self.rng.random() < 0.5

    def property(self, household: Household) -> None:
        share = 0.12 if household.migrant_region else 0.78
        head = household.head
        if not household.poor and self.rng.random() < share:
            count = self.rng.choices((1, 2, 3), (80, 17, 3))[0]
            spouse = head.spouse if head.spouse is not None and head.spouse.alive else None
            co_ownership = self.rng.choices(("joint", "sole", "by_shares"), (70, 25, 5))[0] if spouse else "sole"
            holders = [head] if co_ownership == "sole" else [head, spouse]  # type: ignore[list-item]
            self.register(household, holders, co_ownership, count)
        for person in household.members[1:]:
            if person.relation in ("parent", "child", "other") and person.age >= 25 and not person.properties \
                    and self.rng.random() < (0.25 if person.relation == "parent" else 0.1):
                self.register(household, [person], "sole", 1)

    def register(self, household: Household, holders: list[Person], co_ownership: str, count: int) -> None:
        self.property_numbers += 1
        district = household.district if household.migrant_region is None else self.district()
        youngest_adult = max(holder.birth for holder in holders).toordinal() + 22 * 365
        registered = date.fromordinal(self.rng.randint(min(max(youngest_adult, date(1998, 1, 1).toordinal()),
                                                           REFERENCE_DATE.toordinal() - 30), REFERENCE_DATE.toordinal() - 30))
        usage = "residential" if count == 1 else self.rng.choice(("residential", "commercial", "office", "industrial", "other"))
        location = household.address if count == 1 and household.migrant_region is None else (
            f"{district.address_prefix}{self.rng.choice(district.streets)}{self.rng.choice(district.roads)}{self.rng.randint(1, 999)}号")
        title = Property(number=self.property_numbers, district=district, holders=holders, co_ownership=co_ownership,
                         location=location, usage=usage,
                         area=Decimal(self.rng.randint(4500, 16000)) / 100, registered_at=registered)
        for holder in holders:
            holder.properties.append(title)
            holder.property_count = count

    def facts(self, household: Household) -> None:
        for person in household.members:
            disabled = 0.012 if person.age < 18 else 0.02 if person.age < 60 else 0.06
            if self.rng.random() < disabled:
                category = self.rng.choices(("physical", "visual", "hearing", "speech", "intellectual", "mental", "multiple"),
                                            (40, 13, 20, 2, 7, 8, 10))[0]
                grade = self.rng.choices(("grade_1", "grade_2", "grade_3", "grade_4"), (15, 25, 30, 30))[0]
                person.disability = (category, grade, self.birth_for_age(self.rng.randint(0, min(9, person.age))))
            if person.age >= 18 and household.migrant_region is None:
                person.criminal_record = self.rng.random() < (0.01 if person.gender == MALE else 0.002)
            self.schooling(person)
            if person.age <= 14 and self.rng.random() < 0.07:
                person.missing_vaccines = tuple(self.rng.sample(VACCINES, self.rng.randint(1, 2)))

    def schooling(self, person: Person) -> None:
        if person.age < 22:
            return
        year = person.birth.year
        chance = 0.45 if year >= 1990 else 0.25 if year >= 1975 else 0.10 if year >= 1960 else 0.03
        if self.rng.random() >= chance:
            return
        level = self.rng.choices(("junior_college", "bachelor", "master", "doctorate"), (45, 42, 11, 2))[0]
        code, school = self.rng.choice(COLLEGES if level == "junior_college" else UNIVERSITIES)
        years = {"junior_college": 21, "bachelor": 22, "master": 25, "doctorate": 28}[level]
        graduated = date(min(person.birth.year + years, REFERENCE_DATE.year - 1), 6, self.rng.randint(20, 30))
        person.education = (level, code, school, self.rng.choice(MAJORS), graduated)

    def economy(self, household: Household) -> None:
        """Leases, public housing and minimum-living assistance, from income and property."""
        owns = any(person.properties for person in household.members)
        if owns:
            return
        if household.poor and self.rng.random() < 0.4 or not household.poor and household.migrant_region is None \
                and self.rng.random() < 0.03:
            household.public_housing = True
        elif self.rng.random() < (0.85 if household.migrant_region else 0.35):
            start = date.fromordinal(REFERENCE_DATE.toordinal() - self.rng.randint(30, 900))
            household.lease = (start, date(start.year + self.rng.choice((1, 2, 3)), start.month, min(start.day, 28)))
        if household.poor:
            alive = [person for person in household.members if person.alive]
            elderly_alone = all(person.age >= 60 or person.age < 16 for person in alive)
            kind = "extreme_poverty" if elderly_alone and self.rng.random() < 0.5 else \
                self.rng.choices(("minimum_living", "low_income"), (75, 25))[0]
            since = date.fromordinal(REFERENCE_DATE.toordinal() - self.rng.randint(60, 2500)).replace(day=1)
            household.assistance = (kind, self.rng.random() < 0.85, since)

    # --- businesses -------------------------------------------------------------------

    def company(self, number: int) -> Business:
        """Company `number` (0 <= number < self.companies), drawn from a random stream of its own:
        the same whenever it is made, so none has to be kept."""
        main, self.rng = self.rng, random.Random(self.seed << 40 | 1 << 39 | number)
        try:
            return self.business(self.district(), self.surname() + self.given_name(MALE), number)
        finally:
            self.rng = main

    def employer(self) -> Business:
        """An active limited or joint-stock company, drawn by its number."""
        while True:
            company = self.company(self.rng.randrange(self.companies))
            if company.entity_type in EMPLOYER_TYPES and company.status == "active":
                return company

    def business(self, district: District, representative: str, number: int, individual: bool = False) -> Business:
        """Business `number` of the city: its credit code's body is a bijection of the number."""
        if individual:
            entity_type = self.rng.choices(("individual_business", "sole_proprietorship"), (85, 15))[0]
        else:
            entity_type = self.rng.choices(("limited_company", "joint_stock_company", "partnership", "farmers_cooperative"),
                                           (80, 6, 6, 8))[0]
        prefix = {"individual_business": "92", "farmers_cooperative": "93"}.get(entity_type, "91")
        body = "MA" + _digits(self.credit_codes[number], USCC_BODY_ALPHABET, 6)
        place = district.name
        brand = self.rng.choice(BRAND_WORDS)
        name = {
            "limited_company": f"{place}{brand}{district.industry}有限公司",
            "joint_stock_company": f"浙江{brand}{district.industry}股份有限公司",
            "partnership": f"{place}{brand}投资合伙企业（有限合伙）",
            "farmers_cooperative": f"{place}{brand}{district.industry}专业合作社",
            "individual_business": f"{place}{brand}{district.industry}经营部",
            "sole_proprietorship": f"{place}{brand}{district.industry}厂",
        }[entity_type]
        capital = "" if entity_type == "individual_business" else f"{self.rng.choice((10, 50, 100, 200, 500, 1000, 5000))}万元人民币"
        established = date.fromordinal(REFERENCE_DATE.toordinal() - self.rng.randint(90, 25 * 365))
        status = "active" if individual else self.rng.choices(("active", "cancelled", "revoked"), (90, 7, 3))[0]
        return Business(
            uscc=complete_uscc(prefix + district.code + body), name=name, entity_type=entity_type, district=district,
            address=f"{district.address_prefix}{self.rng.choice(district.streets)}{self.rng.choice(district.roads)}{self.rng.randint(1, 999)}号",
            legal_representative=representative, registered_capital=capital or "—", established=established, status=status,
        )


SNAPSHOT_AT = datetime.combine(REFERENCE_DATE, time(2, 0), BEIJING)
HOUSEHOLDS_PER_RUN = 2_000


def iter_population(seed: int, residents: int, households_per_run: int = HOUSEHOLDS_PER_RUN) -> Iterator[Population]:
    """At least `residents` living people in households, a run of `households_per_run`
    households at a time. The first runs carry the companies people work for (as many per run,
    and no households); each later run its households and the individual businesses its people
    own. Nothing but counters is kept between runs."""
    if residents < 1:
        raise ValueError("the demo city needs at least one resident")
    maker = _Maker(seed, companies=max(40, residents // 25))
    run = Population(households=(), businesses=(), reference_date=REFERENCE_DATE, snapshot_at=SNAPSHOT_AT)
    for first in range(0, maker.companies, households_per_run):
        yield replace(run, businesses=tuple(maker.company(number)
                                            for number in range(first, min(first + households_per_run, maker.companies))))
    households: list[Household] = []
    businesses: list[Business] = []
    living = 0
    while living < residents:
        household = maker.household(run.first_household + len(households))
        household.poor = maker.rng.random() < (0.02 if household.migrant_region else 0.045)
        maker.deaths(household)
        maker.work(household, businesses)
        maker.property(household)
        maker.facts(household)
        maker.economy(household)
        households.append(household)
        living += sum(person.alive for person in household.members)
        if len(households) == households_per_run or living >= residents:
            run = replace(run, households=tuple(households), businesses=tuple(businesses))
            yield run
            run = replace(run, households=(), businesses=(), first_household=run.first_household + len(run.households),
                          first_person=run.first_person + sum(len(h.members) for h in run.households),
                          first_living=run.first_living + sum(p.alive for h in run.households for p in h.members))
            households, businesses = [], []


def build_population(seed: int, residents: int) -> Population:
    """The whole city at once (`iter_population`'s runs joined): for a small city only."""
    runs = list(iter_population(seed, residents))
    return replace(runs[0], households=tuple(h for run in runs for h in run.households),
                   businesses=tuple(b for run in runs for b in run.businesses))
