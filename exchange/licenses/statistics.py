"""How the license library is used: per license type, how many licenses are held and in force
now (neither revoked nor lapsed, nor issued to take effect later), and
how many times one was used — by a department through the exchange (用证, with a usage copy) or
by a matter handler that settled a proof from it (a proof item naming the license version) —,
each a paper copy the holder did not have to bring, in all and per matter.

Counting (`count_licenses`) reads the library once; the rows (`license_statistics`) name the
catalog's license types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.validity import whole_second
from catalog.model import Catalog
from exchange.applications.records import Application, ApplicationItem
from exchange.licenses.records import LicenseRecord, LicenseState, LicenseUsage, LicenseVersionRecord


@dataclass(frozen=True)
class CountedLicenses:
    """Per license type: how many licenses are in force, and how many times one was used per matter."""

    held: dict[str, int]
    used: dict[str, dict[str, int]]


def count_licenses(session: Session, now: datetime) -> CountedLicenses:
    """The library's figures at `now`."""
    current = LicenseVersionRecord
    held = {license_type: count for license_type, count in session.execute(
        select(LicenseRecord.license_type, func.count())
        .join(current, (current.license_id == LicenseRecord.id) & (current.version == LicenseRecord.current_version))
        .where(LicenseRecord.status == LicenseState.VALID, current.valid_from <= now,
               or_(current.valid_until.is_(None), current.valid_until >= whole_second(now)))
        .group_by(LicenseRecord.license_type)).all()}
    used: dict[str, dict[str, int]] = {}
    rows = session.execute(
        select(LicenseRecord.license_type, LicenseUsage.matter, func.count())
        .join(LicenseVersionRecord, LicenseVersionRecord.id == LicenseUsage.version_id)
        .join(LicenseRecord, LicenseRecord.id == LicenseVersionRecord.license_id)
        .group_by(LicenseRecord.license_type, LicenseUsage.matter))
    settled = session.execute(
        select(LicenseRecord.license_type, Application.matter, func.count())
        .select_from(ApplicationItem)
        .join(Application, Application.id == ApplicationItem.application_id)
        .join(LicenseVersionRecord, LicenseVersionRecord.identifier == ApplicationItem.license)
        .join(LicenseRecord, LicenseRecord.id == LicenseVersionRecord.license_id)
        .group_by(LicenseRecord.license_type, Application.matter))
    for license_type, matter, count in [*rows.all(), *settled.all()]:
        by_matter = used.setdefault(license_type, {})
        by_matter[matter] = by_matter.get(matter, 0) + count
    return CountedLicenses(held=held, used=used)


def license_statistics(counted: CountedLicenses, catalog: Catalog) -> list[dict[str, Any]]:
    """One row per license type of the catalog, in catalog order."""
    rows = []
    for code, license_type in catalog.licenses.items():
        by_matter = counted.used.get(code, {})
        rows.append({"license_type": code, "name_zh": license_type.name_zh, "held": counted.held.get(code, 0),
                     "used": sum(by_matter.values()), "paper_avoided": sum(by_matter.values()),
                     "used_by_matter": by_matter})
    return rows
