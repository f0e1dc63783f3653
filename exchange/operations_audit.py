"""The auditor's side of the operations in the access log's chain (`exchange.operations`): the
newest operations with who made them (`mianzheng audit operations`), and the tables compared with
them (`check_operations_against_chain`, run by `mianzheng audit verify`): every catalog version
must be as its publication's entry records it (its document hashed again), every department
system as its newest registration's or rotation's entry records it, and every certificate,
license, seal and department system the chain records as revoked must still be revoked in its
row, its status list or the CRL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session

from catalog.versions import CatalogVersion
from core.canonical import canonical_sha256
from exchange.access_log import AccessRecord, operation_entries
from exchange.certificate_records import IssuedCertificate
from exchange.clients import ClientRecord, clients_unlike_chain
from exchange.licenses.records import LicenseRecord, LicenseState, LicenseVersionRecord
from exchange.operation_codes import Operation
from exchange.operations import entries_of, publication_detail
from seals.registry import Seal, SealStatus, current_crl

_LOG = AccessRecord.__table__


def recent_operations(session: Session, limit: int) -> Sequence[AccessRecord]:
    """The newest `limit` operations' entries, newest first."""
    return session.scalars(select(AccessRecord).where(operation_entries()).order_by(AccessRecord.seq.desc())
                           .limit(limit)).all()


@dataclass(frozen=True)
class OperationsAgainstChain:
    """How the tables compare with the operations the chain records."""

    versions: int
    """Catalog versions kept."""
    versions_unrecorded: int
    """Versions whose row the chain does not record as published (changed, or added beside it)."""
    versions_missing: int
    """Publications the chain records without their version's row."""
    revocations: int
    """Revocations the chain records."""
    revocations_undone: int
    """Of them, those whose certificate, license, seal or department system is no longer revoked in
    its row, whose entry the stored status list no longer sets, or whose seal the stored CRL no
    longer lists."""
    clients_unrecorded: int
    """Department systems the chain does not record as their rows hold them (rows added beside it,
    or whose department, scopes or secrets were changed beside it: authentication goes by the
    chain)."""

    @property
    def differing(self) -> int:
        return self.versions_unrecorded + self.versions_missing + self.revocations_undone + self.clients_unrecorded


_UNDONE: tuple[tuple[Operation, ColumnElement[bool]], ...] = (
    (Operation.CERTIFICATE_REVOKED, exists().where(IssuedCertificate.identifier == _LOG.c.case_number,
                                                   IssuedCertificate.status != "revoked")),
    (Operation.LICENSE_REVOKED, exists().where(LicenseVersionRecord.identifier == _LOG.c.case_number,
                                               LicenseRecord.id == LicenseVersionRecord.license_id,
                                               LicenseRecord.status != LicenseState.REVOKED.value)),
    (Operation.SEAL_REVOKED, exists().where(Seal.serial_hex == _LOG.c.case_number,
                                            or_(Seal.revoked_at.is_(None), Seal.status != SealStatus.REVOKED))),
    (Operation.CLIENT_REVOKED, exists().where(ClientRecord.public_id == _LOG.c.case_number,
                                              ClientRecord.revoked_at.is_(None))),
)
"""Each revocation the chain records, and what says its row no longer holds it."""


def check_operations_against_chain(session: Session,
                                   published_entries: Callable[[int], Collection[int]]) -> OperationsAgainstChain:
    """Compare the catalog versions (their documents hashed again) and the revoked rows, the
    signed status lists (`published_entries` of a list: the entries its stored signed list sets)
    and the stored CRL with the operations the chain records: for the auditor (`mianzheng audit
    verify`). A revocation counts as undone once: its row, its list's entry or the CRL."""
    published = {row.case_number: row.purpose for row in session.execute(
        select(_LOG.c.case_number, _LOG.c.purpose).where(entries_of(Operation.CATALOG_PUBLISHED)))}
    kept = session.execute(select(CatalogVersion.number, CatalogVersion.document, CatalogVersion.content_hash,
                                  CatalogVersion.published_by, CatalogVersion.note)).all()
    unrecorded = sum(1 for version in kept if version.content_hash != canonical_sha256(version.document)
                     or published.get(str(version.number)) != publication_detail(
                         version.content_hash, version.published_by, version.note))
    missing = len(published.keys() - {str(version.number) for version in kept})
    revocations, undone = 0, set()
    for operation, row_undone in _UNDONE:
        revocations += session.scalar(select(func.count()).select_from(_LOG).where(entries_of(operation))) or 0
        undone.update(session.scalars(select(_LOG.c.seq).where(entries_of(operation), row_undone)))
    lists: dict[int, Collection[int]] = {}
    for operation in (Operation.CERTIFICATE_REVOKED, Operation.LICENSE_REVOKED):
        for seq, detail in session.execute(select(_LOG.c.seq, _LOG.c.purpose).where(entries_of(operation))):
            recorded = json.loads(detail)
            if recorded["status_list"] not in lists:  # each stored list read once
                lists[recorded["status_list"]] = published_entries(recorded["status_list"])
            if recorded["status_index"] not in lists[recorded["status_list"]]:
                undone.add(seq)
    crl = current_crl(session)
    for seq, serial in session.execute(select(_LOG.c.seq, _LOG.c.case_number).where(
            entries_of(Operation.SEAL_REVOKED))):
        if crl is None or crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is None:
            undone.add(seq)
    return OperationsAgainstChain(len(kept), unrecorded, missing, revocations, len(undone),
                                  len(clients_unlike_chain(session)))
