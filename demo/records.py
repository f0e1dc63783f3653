"""What each source department holds about the demo population: one builder per pulled
proof of the bundled catalog, yielding (subject ID, subject name, data items as Python
values). demo_data.py checks the items against the catalog and writes them.

Who has a record: NO_HOUSING everyone (a search also answers "nothing registered");
HOUSEHOLD_REGISTRATION and HOUSEHOLD_BOOK people whose hukou is in the city (not
migrants; the book only while the hukou is current); NO_CRIMINAL_RECORD local people of
14 and over; MARITAL_STATUS people of 18 and over; INCOME (civil affairs' household economic
check) every living adult; the rest only where the fact exists (a title deed, a job, a
disability, a lease ...). Everyone else is "subject not found".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from catalog.loading import bundled_catalog_path, load_catalog
from catalog.city_time import BEIJING
from demo.population import Business, Person, Population
from demo.vocabulary import CITY_REGION, HOSPITALS_SECONDARY

Row = tuple[str, str | None, dict[str, Any]]
Builder = Callable[[Population], Iterator[Row]]


@cache
def minimum_living_standard() -> Decimal:
    """Monthly minimum-living standard per person in the demo city (元), from the bundled
    catalog's city section: the figure its rules compare with."""
    return Decimal(str(load_catalog(bundled_catalog_path()).city["minimum_living_standard_monthly"].value))


def as_of(population: Population) -> datetime:
    """When the demo data was current (the snapshot time the generator was given)."""
    return population.snapshot_at


def _living(population: Population) -> Iterator[Person]:
    return (person for person in population.people if person.alive)


def _region(person: Person) -> str:
    return person.household.migrant_region or person.household.district.code


def _serial(prefix: str, number: int, width: int = 7) -> str:
    return f"{prefix}{number:0{width}d}"


def no_housing(population: Population) -> Iterator[Row]:
    searched = as_of(population)
    for index, person in enumerate(population.people, start=population.first_person + 1):
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "search_scope_region": CITY_REGION,
            "has_registered_property": person.property_count > 0, "property_count": person.property_count,
            "search_purpose": "部门数据共享核验", "search_no": _serial(f"JHBDC{searched:%Y%m%d}", index),
            "searched_at": searched,
        }


def real_estate_cert(population: Population) -> Iterator[Row]:
    for person in population.people:
        if not person.properties:
            continue
        title = person.properties[-1]
        yield person.id_number, person.name, {
            "certificate_no": f"浙（{title.registered_at.year}）{title.district.name}不动产权第{title.number:07d}号",
            "unit_no": f"{title.district.code}{title.number % 1000:03d}{title.number % 997:03d}GB{title.number:05d}F0001{title.number % 9999:04d}",
            "right_holders": [holder.name for holder in title.holders], "co_ownership": title.co_ownership,
            "location": title.location, "usage": title.usage, "area_sqm": title.area, "registered_at": title.registered_at,
        }


def _police_station(person: Person) -> str:
    district = person.household.district
    bureau = f"金华市公安局{district.name}分局" if district.name.endswith("区") else f"{district.name}公安局"
    return f"{bureau}{person.household.street.removesuffix('街道').removesuffix('镇')}派出所"


def no_criminal_record(population: Population) -> Iterator[Row]:
    issued = population.reference_date
    for index, person in enumerate(_living(population), start=population.first_living + 1):
        if person.household.migrant_region or person.age < 14:
            continue
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number,
            "period_start": person.birth.replace(year=person.birth.year + 14, day=min(person.birth.day, 28)),
            "period_end": issued, "has_criminal_record": person.criminal_record, "purpose": "个人申请",
            "issuing_station": _police_station(person), "certificate_no": _serial(f"{_region(person)}{issued:%Y%m%d}", index, 6),
            "issued_at": issued,
        }


def _local(population: Population) -> Iterator[Person]:
    return (person for person in population.people if person.household.migrant_region is None)


def household_registration(population: Population) -> Iterator[Row]:
    for person in _local(population):
        household = person.household
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "gender": person.gender, "birth_date": person.birth,
            "hukou_address": household.address, "hukou_region": household.district.code,
            "household_head": household.head.name, "relation_to_head": person.relation, "hukou_status": person.hukou_status,
        }


def household_book(population: Population) -> Iterator[Row]:
    for household in population.households:
        if household.number is None:
            continue
        current = [person for person in household.members if person.hukou_status == "normal"]
        members = [{"name": p.name, "id_number": p.id_number, "relation": p.relation} for p in current]
        for person in current:
            yield person.id_number, person.name, {
                "household_no": household.number, "household_head": household.head.name,
                "address": household.address, "members": members,
            }


def residence_permit(population: Population) -> Iterator[Row]:
    for index, person in enumerate(_living(population), start=population.first_living):
        if person.household.migrant_region is None or person.age < 16:
            continue
        issued = date.fromordinal(population.reference_date.toordinal() - 30 - index * 37 % 1500)
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "residence_address": person.household.address,
            "issued_at": issued, "valid_until": issued.replace(year=issued.year + 1 + index % 3, day=min(issued.day, 28)),
        }


def marital_status(population: Population) -> Iterator[Row]:
    for person in population.people:
        if person.age < 18:
            continue
        spouse = person.spouse if person.marital == "married" else None
        registered = person.divorce_date if person.marital == "divorced" else person.marriage_date
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "marital_status": person.marital,
            "registration_date": registered, "spouse_name": spouse.name if spouse else None,
            "spouse_id_number": spouse.id_number if spouse else None,
            "registration_authority": f"{person.household.district.name}民政局婚姻登记处" if registered else None,
        }


def minimum_living(population: Population) -> Iterator[Row]:
    for household in population.households:
        if household.assistance is None:
            continue
        kind, active, since = household.assistance
        covered = [person for person in household.members if person.alive]
        income = sum((person.annual_income for person in covered), Decimal(0)) / 12
        amount = max(Decimal(200), minimum_living_standard() * len(covered) - income).quantize(Decimal("1.00"))
        for person in covered:
            yield person.id_number, person.name, {
                "full_name": person.name, "id_number": person.id_number, "assistance_type": kind, "is_active": active,
                "covered_persons": len(covered), "monthly_amount": amount, "start_date": since,
            }


def income(population: Population) -> Iterator[Row]:
    """The household economic check: each living adult's household (its living members) and
    their income over the 12 months before the snapshot, against the minimum living standard."""
    first_of_month = as_of(population).astimezone(BEIJING).date().replace(day=1)
    start, end = first_of_month.replace(year=first_of_month.year - 1), first_of_month - timedelta(days=1)
    for household in population.households:
        living = [person for person in household.members if person.alive]
        if not living:
            continue
        annual = sum((person.annual_income for person in living), Decimal(0)).quantize(Decimal("1.00"))
        per_capita = (annual / 12 / len(living)).quantize(Decimal("1.00"))
        result = "eligible" if per_capita < minimum_living_standard() else "ineligible"
        for person in living:
            if person.age >= 18:
                yield person.id_number, person.name, {
                    "full_name": person.name, "id_number": person.id_number, "family_size": len(living),
                    "annual_household_income": annual, "per_capita_monthly_income": per_capita,
                    "income_period_start": start, "income_period_end": end, "verification_result": result,
                }


def not_renting_public_housing(population: Population) -> Iterator[Row]:
    checked = as_of(population)
    for person in _living(population):
        if person.age >= 18:
            yield person.id_number, person.name, {
                "full_name": person.name, "id_number": person.id_number,
                "is_renting_public_housing": person.household.public_housing, "checked_at": checked,
            }


def rental_registration(population: Population) -> Iterator[Row]:
    for index, household in enumerate(population.households, start=population.first_household):
        if household.lease is None:
            continue
        start, end = household.lease
        for person in household.members[:2]:
            if person.alive and person.age >= 18:
                yield person.id_number, person.name, {
                    "full_name": person.name, "id_number": person.id_number, "property_address": household.address,
                    "lease_start": start, "lease_end": end, "filing_no": _serial(f"JHZL{start:%Y%m}", index, 6),
                }


def social_insurance(population: Population) -> Iterator[Row]:
    for person in population.people:
        if not person.insured or person.job_start is None:
            continue
        employee = person.employment == "employed" and person.employer is not None
        types = ["pension", "medical", "unemployment", "work_injury", "maternity"] if employee else ["pension", "medical"]
        status = "terminated" if not person.alive else {"employed": "active", "flexible": "active"}.get(
            person.employment, "suspended")
        end = person.died_at.date() if person.died_at else population.reference_date
        months = max(1, (end.year - person.job_start.year) * 12 + end.month - person.job_start.month)
        cumulative = months * 9 // 10 if person.employment != "employed" else months
        consecutive = min(cumulative, 12 + person.birth.day * 5) if status == "active" else 0
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "insurance_types": types, "insured_status": status,
            "insured_region": person.household.district.code,
            "employer_uscc": person.employer.uscc if employee and person.employer else None,
            "contribution_start": person.job_start, "cumulative_months": cumulative, "consecutive_months": consecutive,
        }


def medical_insurance(population: Population) -> Iterator[Row]:
    for index, person in enumerate(population.people, start=population.first_person):
        if index % 50 == 7:  # about 2% are not enrolled in the city
            continue
        employee = person.insured and (person.employment == "employed" or person.employment == "retired")
        status = "terminated" if not person.alive else "suspended" if person.employment == "unemployed" and index % 2 else "active"
        months = min(person.age * 12, 12 * (population.reference_date.year - 2008)) if person.age else 6
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "scheme": "employee" if employee else "resident",
            "insured_status": status, "insured_region": person.household.district.code, "cumulative_months": months,
        }


def provident_fund(population: Population) -> Iterator[Row]:
    for person in population.people:
        employer: Business | None = person.employer
        if employer is not None and person.employment == "employed" and person.alive:
            if person.birth.day % 5 == 0:  # not every employer pays into the fund
                continue
            status, name = "active", employer.name
        elif person.employment in ("retired", "unemployed") and person.insured and person.birth.day % 2 == 0:
            status, name = ("closed" if person.employment == "retired" else "sealed"), None
        elif not person.alive and person.insured:
            status, name = "closed", None
        else:
            continue
        contribution = (person.annual_income / 12 * Decimal("0.24")).quantize(Decimal("1.00")) if status == "active" else Decimal("0.00")
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "account_status": status, "employer_name": name,
            "monthly_contribution": contribution, "consecutive_months": 6 + person.birth.day * 3 if status == "active" else 0,
        }


def tax_payment(population: Population) -> Iterator[Row]:
    reference = population.reference_date
    year = reference.year - 1
    for index, person in enumerate(_living(population), start=population.first_living + 1):
        recent_title = person.properties and person.properties[-1].registered_at.toordinal() > reference.toordinal() - 365
        if recent_title:
            title = person.properties[-1]
            kind, start, end, amount, paid = "deed_tax", title.registered_at, title.registered_at, title.area * 300, title.registered_at
        elif person.own_business is not None:  # last month's VAT, declared by the 15th of this month
            last_month_end = reference.replace(day=1) - timedelta(days=1)
            end = last_month_end.replace(day=1) - timedelta(days=1)
            kind, start, paid = "value_added_tax", end.replace(day=1), last_month_end.replace(day=15)
            amount = person.annual_income * Decimal("0.01")
        elif person.employment == "employed" and person.annual_income > 96000:
            kind, start, end, paid = "individual_income_tax", date(year, 1, 1), date(year, 12, 31), date(year + 1, 3, 20)
            amount = (person.annual_income - 60000 - 36000) * Decimal("0.10") + Decimal("1080")
        elif person.household.lease is not None and person.relation == "head" and index % 4 == 0:
            start = end = paid = person.household.lease[0]
            kind, amount = "stamp_duty", Decimal("5.00")
        else:
            continue
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "tax_type": kind, "tax_period_start": start,
            "tax_period_end": end, "amount_paid": Decimal(amount).quantize(Decimal("1.00")), "paid_at": paid,
            "certificate_no": _serial(f"333{paid:%Y}", index, 9),
        }


def disability(population: Population) -> Iterator[Row]:
    categories = ("visual", "hearing", "speech", "physical", "intellectual", "mental", "multiple")
    for person in _living(population):
        if person.disability is None:
            continue
        category, grade, issued = person.disability
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number,
            "certificate_no": f"{person.id_number}{categories.index(category) + 1}{grade[-1]}",
            "disability_category": category, "disability_grade": grade,
            "valid_until": issued.replace(year=issued.year + 10, day=min(issued.day, 28)),
        }


def birth_medical(population: Population) -> Iterator[Row]:
    for index, person in enumerate(population.people, start=population.first_person):
        if person.age >= 18 or person.father is None or person.mother is None or person.household.migrant_region:
            continue
        district = person.household.district
        born = datetime.combine(person.birth, time(index % 24, index * 7 % 60), BEIJING)
        yield person.id_number, person.name, {
            "certificate_no": f"{'PQRS'[person.birth.year % 4]}{330000000 + index:09d}", "newborn_name": person.name,
            "gender": person.gender, "birth_datetime": born, "birth_place": district.address_prefix,
            "institution": district.hospital if index % 3 else HOSPITALS_SECONDARY[index % len(HOSPITALS_SECONDARY)],
            "mother_name": person.mother[0], "mother_id_number": person.mother[1],
            "father_name": person.father[0], "father_id_number": person.father[1],
        }


def vaccination(population: Population) -> Iterator[Row]:
    for person in _living(population):
        if person.age <= 14:
            yield person.id_number, person.name, {
                "child_name": person.name, "child_id_number": person.id_number,
                "immunization_complete": not person.missing_vaccines, "missing_vaccines": list(person.missing_vaccines),
            }


def death_medical(population: Population) -> Iterator[Row]:
    for index, person in enumerate(population.people, start=population.first_person):
        if person.died_at is None:
            continue
        at_home = index % 3 == 0
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "death_datetime": person.died_at,
            "death_place": "家中" if at_home else "医疗卫生机构",
            "issuing_institution": f"{person.household.street}社区卫生服务中心" if at_home else person.household.district.hospital,
            "certificate_no": _serial(f"{person.household.district.code}{person.died_at:%Y}", index, 6),
        }


def education(population: Population) -> Iterator[Row]:
    levels = {"doctorate": "01", "master": "02", "bachelor": "05", "junior_college": "06"}
    for index, person in enumerate(population.people, start=population.first_person):
        if person.education is None:
            continue
        level, code, school, major, graduated = person.education
        yield person.id_number, person.name, {
            "full_name": person.name, "id_number": person.id_number, "education_level": level, "institution": school,
            "major": major, "graduation_date": graduated,
            "certificate_no": f"{code}1{graduated.year}{levels[level]}{index % 1000000:06d}",
        }


def business_license(population: Population) -> Iterator[Row]:
    for business in population.businesses:
        yield business.uscc, business.name, {
            "uscc": business.uscc, "entity_name": business.name, "entity_type": business.entity_type,
            "legal_representative": business.legal_representative, "registered_capital": business.registered_capital,
            "established_date": business.established, "domicile": business.address,
            "business_scope": f"{business.district.industry}相关产品的生产、销售；货物进出口（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
            "registration_status": business.status,
        }


BUILDERS: dict[str, Builder] = {
    "NO_HOUSING": no_housing,
    "REAL_ESTATE_SEARCH": no_housing,  # the same registry search, issued as the neutral document
    "REAL_ESTATE_CERT": real_estate_cert,
    "NO_CRIMINAL_RECORD": no_criminal_record,
    "HOUSEHOLD_REGISTRATION": household_registration,
    "HOUSEHOLD_BOOK": household_book,
    "RESIDENCE_PERMIT": residence_permit,
    "MARITAL_STATUS": marital_status,
    "MINIMUM_LIVING": minimum_living,
    "INCOME": income,
    "NOT_RENTING_PUBLIC_HOUSING": not_renting_public_housing,
    "RENTAL_REGISTRATION": rental_registration,
    "SOCIAL_INSURANCE": social_insurance,
    "MEDICAL_INSURANCE": medical_insurance,
    "PROVIDENT_FUND": provident_fund,
    "TAX_PAYMENT": tax_payment,
    "DISABILITY": disability,
    "BIRTH_MEDICAL": birth_medical,
    "VACCINATION": vaccination,
    "DEATH_MEDICAL": death_medical,
    "EDUCATION": education,
    "BUSINESS_LICENSE": business_license,
}
"""The builder of each pulled proof's records, by proof code."""
