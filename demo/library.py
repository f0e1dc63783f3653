"""The demo license library that `mianzheng init` fills: the licenses of the sample residents'
households (刘佳国's among them) and of the first few hundred demo people and companies, issued by
the departments the catalog names, through the bulk import (`bulk_import.py`), so a re-run
changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from exchange.licenses.bulk_import import ImportReport, import_lines
from demo.licenses import demo_exports
from exchange.licenses.service import LicenseLibrary
from exchange.operations import console_operator
from demo.data import demo_population, sample_residents

SAMPLE_RESIDENTS = 16
FIRST_PEOPLE = 400
COMPANIES = 40


def fill_demo_library(sessions: sessionmaker[Session], library: LicenseLibrary,
                      sources_dir: Path) -> dict[str, ImportReport]:
    """Import the demo licenses per issuing department; DemoDataMissing without demo data."""
    population = demo_population(sources_dir)
    samples = {resident.id_number for resident in sample_residents(sources_dir, SAMPLE_RESIDENTS)}
    holders = {person.id_number for person in population.people[:FIRST_PEOPLE]}
    for household in population.households:
        if any(member.id_number in samples for member in household.members):
            holders.update(member.id_number for member in household.members)
    exports = demo_exports(population, library.catalog, holders, COMPANIES)
    return {department: import_lines(sessions, library, department, lines, actor=console_operator())
            for department, lines in sorted(exports.items())}
