"""The demo residents' and companies' licenses: exports in the bulk-import format
(`bulk_import.py`), one per issuing department, made from the same generated population as the
demo source departments (`demo.records`), so a license says what the source's
record says.

A license type that answers a proof takes that proof's record of the holder (and a 结婚证 or
离婚证 by the record's marital status); the others — 机动车驾驶证, 教师资格证书, 社会保障卡 — are
derived from the person. `holders` limits the people to a set of ID numbers (the demo at
`mianzheng init` issues to the sample residents' households and a few hundred others, so every
type is present; the whole population is for measuring bulk import).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import Any

from catalog.model import Catalog, ItemType, LicenseType, Subject
from demo.population import Person, Population
from demo.records import BUILDERS
from exchange.licenses.content import ended_state
from exchange.sources.values import json_value

_EXTRA: dict[str, dict[str, Any]] = {
    "HUKOU_BOOKLET": {"household_type": "family", "registration_authority": "金华市公安局"},
}
_START_ITEMS = ("valid_from", "issued_at", "registered_at", "registration_date", "established_date", "graduation_date",
                "birth_datetime")
"""Items that say when a license took effect, in order of preference (its `valid_from`)."""
_MARITAL_TYPES = {"married": "MARRIAGE_CERTIFICATE", "divorced": "DIVORCE_CERTIFICATE"}


def demo_exports(population: Population, catalog: Catalog, holders: Collection[str] | None = None,
                 organisations: int | None = None) -> dict[str, list[str]]:
    """JSONL lines per issuing department for every license of the demo population: of the
    people in `holders` and the first `organisations` companies only, if given."""
    exports: dict[str, list[str]] = {}
    companies = None if organisations is None else {b.uscc for b in population.businesses[:organisations]}
    made: Counter[str] = Counter()
    for license_type, number, name, items in _licenses(population, catalog):
        made[license_type.code] += 1  # counted before the selection: a license's reference is the same in every export
        if license_type.holder is Subject.PERSON and holders is not None and number not in holders:
            continue
        if license_type.holder is Subject.ORGANISATION and companies is not None and number not in companies:
            continue
        if ended_state(license_type, items) is not None:  # a company struck off holds no 营业执照 in force
            continue
        holder = {"name": name, "id_number" if license_type.holder is Subject.PERSON else "uscc": number}
        reference = f"DEMO-{license_type.code}-{made[license_type.code]:07d}"  # never the holder's number
        row = {"reference": reference, "license_type": license_type.code, "holder": holder,
               "items": {item.name: _json(license_type, item.name, items.get(item.name))
                         for item in license_type.data_items}}
        started = next((row["items"][name] for name in _START_ITEMS if row["items"].get(name)), None)
        if started is not None:
            row["valid_from"] = started[:10]
        if license_type.validity.value == "stated":
            row["valid_until"] = row["items"].get("valid_until")
            row.setdefault("valid_from", _years_before(row["valid_until"], 10))
        exports.setdefault(license_type.department, []).append(json.dumps(row, ensure_ascii=False))
    return exports


def _licenses(population: Population, catalog: Catalog) -> Iterator[tuple[LicenseType, str, str, dict[str, Any]]]:
    for license_type in catalog.licenses.values():
        if license_type.proof in BUILDERS and license_type.proof != "MARITAL_STATUS":
            for number, name, record in BUILDERS[license_type.proof](population):
                yield license_type, number, name or "", {**_EXTRA.get(license_type.code, {}), **record,
                                                         **_certificate_no(license_type, number)}
    for number, name, record in BUILDERS["MARITAL_STATUS"](population):
        code = _MARITAL_TYPES.get(record["marital_status"])
        if code in catalog.licenses:
            yield catalog.licenses[code], number, name or "", {**record, "certificate_no": f"J3307-{number[-8:]}"}
    for index, person in enumerate(population.people, start=population.first_person):
        yield from _derived(catalog, index, person, population.reference_date)


def _derived(catalog: Catalog, index: int, person: Person,
             today: date) -> Iterator[tuple[LicenseType, str, str, dict[str, Any]]]:
    """The licenses no source proof stands for, from the person's own facts."""
    if not person.alive or person.age < 18:
        return
    base = {"full_name": person.name, "id_number": person.id_number}
    if index % 3 == 0 and "DRIVING_LICENSE" in catalog.licenses:
        first = date(max(person.birth.year + 18, today.year - 20 + index % 15), 1 + index % 12, 1 + index % 28)
        renewed = first.replace(year=first.year + 6 * ((today.year - first.year) // 6))
        yield catalog.licenses["DRIVING_LICENSE"], person.id_number, person.name, {
            **base, "license_no": person.id_number, "vehicle_classes": ["c1"] if index % 5 else ["a1", "c1"],
            "first_issued": first, "valid_from": renewed, "valid_until": renewed.replace(year=renewed.year + 10)}
    if person.education is not None and index % 4 == 0 and "TEACHER_CERTIFICATE" in catalog.licenses:
        level, _, _, major, graduated = person.education
        kind = "senior_secondary" if level in ("master", "doctorate") else "primary"
        yield catalog.licenses["TEACHER_CERTIFICATE"], person.id_number, person.name, {
            **base, "certificate_no": f"{graduated.year}33{index % 10**8:08d}{index % 10}", "qualification_type": kind,
            "subject": major, "issued_at": graduated.replace(day=min(graduated.day, 28))}
    if person.insured and "SOCIAL_SECURITY_CARD" in catalog.licenses:
        yield catalog.licenses["SOCIAL_SECURITY_CARD"], person.id_number, person.name, {
            **base, "card_no": f"G{index % 10**8:08d}", "issued_at": date(today.year - 1 - index % 9, 3, 1)}


def _years_before(day: str, years: int) -> str:
    start = date.fromisoformat(day)
    return start.replace(year=start.year - years, day=min(start.day, 28)).isoformat()


def _certificate_no(license_type: LicenseType, number: str) -> dict[str, str]:
    if license_type.code == "RESIDENCE_PERMIT_CARD":
        return {"permit_no": f"330700{number[-12:]}"}
    return {}


def _json(license_type: LicenseType, name: str, value: Any) -> Any:
    item = license_type.item(name)
    if item.type is ItemType.DATE and isinstance(value, datetime):
        value = value.date()
    return json_value(item, value)
