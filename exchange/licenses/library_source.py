"""The license library as the first source of the proofs licenses answer.

A proof handled as `e_license` — in the asking matter (`Matter.mode_for`: the matter's own mode
for the proof, else the proof's), or by default when no matter is named — and that some license
type answers (`LicenseType.proof`) is read from the holder's current, valid, unexpired license
of such a type — the newest —, with the license as provenance (`SourceAnswer.provenance`: its
identifier, type and version); only when the holder has none is the proof's source department
asked, as before. The items the proof and the license share have the same names and types (the
catalog checks it); a proof item the license lacks is null.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from catalog.model import Mode
from core.clock import Clock, utc_now
from exchange.licenses.service import LicenseLibrary, current_license, stored_content
from exchange.sources.contract import SourceAnswer
from exchange.sources.directory import SourceDirectory
from exchange.unit_of_work import UnitOfWork

Lookup = Callable[[str, str, str | None], SourceAnswer | None]
"""(proof code, holder number, asking matter or None) -> the library's answer, or None to ask the department."""


class LibraryFirstSources(SourceDirectory):
    """`inner`'s sources, asked only when `lookup` finds no license for the proof and subject."""

    def __init__(self, inner: SourceDirectory, lookup: Lookup) -> None:
        super().__init__(inner.catalog, inner.sources, inner.observer)
        self._lookup = lookup

    def query(self, proof_code: str, id_number: str, name: str | None = None, *,
              matter: str | None = None) -> SourceAnswer:
        return self._lookup(proof_code, id_number, matter) or super().query(proof_code, id_number, name)


def library_first(inner: SourceDirectory, sessions: sessionmaker[Session], library: LicenseLibrary,
                  clock: Clock = utc_now) -> SourceDirectory:
    """`inner` with the license library in front of it for the proofs licenses answer, where
    they are handled as e_license."""
    catalog = library.catalog
    reads = UnitOfWork(sessions)
    answering: dict[str, set[str]] = {}
    for license_type in catalog.licenses.values():
        if license_type.proof in catalog.proofs:
            answering.setdefault(license_type.proof, set()).add(license_type.code)
    if not answering:
        return inner

    def lookup(proof_code: str, number: str, matter_code: str | None) -> SourceAnswer | None:
        types = answering.get(proof_code)
        if types is None:
            return None
        proof = catalog.proofs[proof_code]
        matter = catalog.matters.get(matter_code or "")
        asked_in_matter = matter is not None and any(entry.proof == proof_code for entry in matter.proofs)
        if (matter.mode_for(proof) if asked_in_matter else proof.mode) is not Mode.E_LICENSE:
            return None
        with reads.read() as session:
            found = current_license(session, library, types, proof.subject, number, clock())
            if found is None:
                return None
            record, version = found
            items = stored_content(library, version).items
        return SourceAnswer(proof=proof_code, as_of=version.issued_at,
                            record={item.name: items.get(item.name) for item in proof.data_items},
                            provenance={"license": version.identifier, "license_type": record.license_type,
                                        "version": version.version})

    return LibraryFirstSources(inner, lookup)
