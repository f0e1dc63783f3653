"""Operations in the access log's chain: who changed what the exchange vouches for, and when.

Each change an operator makes at the command line, or a department system over the API, to what
the exchange vouches for — a certificate or license revoked, a license issued or amended, licenses
imported, a seal issued, rotated or revoked, the city's root set up, a department system
registered, given a new token or revoked, a catalog version published — appends an entry of
outcome `operation` in the transaction that makes the change (`record_operation`): `reason` is the
operation's code (`exchange.operation_codes`), `client_id` the department system or
`caseworker_id` the operator, `consumer_department` the department whose certificate, license,
seal or system it is, `case_number` what was changed (by the exchange's own identifier) and
`purpose` the detail. The entries are found by the partial index `ix_access_log_operations`.

The tables keep their own state and the exchange serves from them; the auditor compares them with
the chain (`check_operations_against_chain`, run by `mianzheng audit verify`): every catalog
version must be as its publication's entry records it (number, content, publisher, note), and
every certificate, license, seal and department system the chain records as revoked must still
be revoked in its row.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from catalog.citizen_id import mask_free_text
from catalog.versions import CatalogVersion
from core.canonical import canonical_json, canonical_sha256
from exchange.access_log import AccessEntry, AccessRecord, Outcome, append_access, operation_entries
from exchange.certificate_records import IssuedCertificate
from exchange.clients import AuthenticatedClient, ClientRecord
from exchange.licenses.records import LicenseRecord, LicenseState, LicenseVersionRecord
from exchange.operation_codes import Operation
from seals.registry import Seal, SealStatus, current_crl

_LOG = AccessRecord.__table__


@dataclass(frozen=True)
class Actor:
    """Who made a change: a department system (`client_id`, of `department`) or an operator at
    the command line (`operator`)."""

    client_id: str | None = None
    department: str | None = None
    operator: str | None = None


def system_actor(client: AuthenticatedClient) -> Actor:
    """A department system calling the API, as its entries name it."""
    return Actor(client_id=client.client_id, department=client.department_code)


def console_user() -> str:
    """The login name on the server of whoever runs a command."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a user id without a name (a container's)
        return f"uid-{os.getuid()}"


def console_operator() -> Actor:
    """The operator running a command, as their entries name them: `os-user:<login name>`."""
    return Actor(operator=f"os-user:{console_user()}")


def record_operation(session: Session, operation: Operation, actor: Actor, target: str, *,
                     department: str | None = None, detail: str | None = None) -> None:
    """Append the entry of `operation` on `target` by `actor` in the caller's transaction (it
    holds the chain's lock until the caller commits: call it last)."""
    append_access(session, AccessEntry(
        outcome=Outcome.OPERATION, reason=operation.value, client_id=actor.client_id,
        consumer_department=department or actor.department, caseworker_id=actor.operator, case_number=target,
        purpose=detail))


def publication_detail(content_hash: str, published_by: str, note: str | None) -> str:
    """What a catalog version's entry records of it, as its `purpose` holds it (masked as typed text is)."""
    return mask_free_text(canonical_json({"content_hash": content_hash, "note": note, "published_by": published_by})
                          .decode("utf-8"))


def revocation_detail(reason: str, status_list: int, status_index: int) -> str:
    """What a certificate's or a license's revocation entry records (its `purpose`): the reason,
    and the status-list entry its credential names, which every later signing of that list keeps
    set (`revocations_in_chain`) and the auditor finds set (`check_operations_against_chain`)."""
    return canonical_json({"reason": reason, "status_index": status_index, "status_list": status_list}).decode()


def revocations_in_chain(session: Session, operation: Operation, list_id: int) -> list[tuple[int, str]]:
    """(index, reason) of each entry of status list `list_id` the chain records `operation` (a
    certificate's or a license's revocation) setting: a row set back, or moved to another index,
    does not clear it."""
    return [(recorded["status_index"], recorded["reason"]) for recorded in _revocations(session, operation)
            if recorded["status_list"] == list_id]


def _revocations(session: Session, operation: Operation) -> Iterator[dict[str, Any]]:
    for (detail,) in session.execute(select(_LOG.c.purpose).where(_entries_of(operation))):
        yield json.loads(detail)


def record_publication(session: Session, version: CatalogVersion, actor: Actor) -> None:
    """The entry of a catalog version just published."""
    record_operation(session, Operation.CATALOG_PUBLISHED, actor, str(version.number),
                     detail=publication_detail(version.content_hash, version.published_by, version.note))


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

    @property
    def differing(self) -> int:
        return self.versions_unrecorded + self.versions_missing + self.revocations_undone


def _entries_of(operation: Operation) -> ColumnElement[bool]:
    return and_(operation_entries(), _LOG.c.reason == operation.value)


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
        select(_LOG.c.case_number, _LOG.c.purpose).where(_entries_of(Operation.CATALOG_PUBLISHED)))}
    kept = session.execute(select(CatalogVersion.number, CatalogVersion.document, CatalogVersion.content_hash,
                                  CatalogVersion.published_by, CatalogVersion.note)).all()
    unrecorded = sum(1 for version in kept if version.content_hash != canonical_sha256(version.document)
                     or published.get(str(version.number)) != publication_detail(
                         version.content_hash, version.published_by, version.note))
    missing = len(published.keys() - {str(version.number) for version in kept})
    revocations, undone = 0, set()
    for operation, row_undone in _UNDONE:
        revocations += session.scalar(select(func.count()).select_from(_LOG).where(_entries_of(operation))) or 0
        undone.update(session.scalars(select(_LOG.c.seq).where(_entries_of(operation), row_undone)))
    lists: dict[int, Collection[int]] = {}
    for operation in (Operation.CERTIFICATE_REVOKED, Operation.LICENSE_REVOKED):
        for seq, detail in session.execute(select(_LOG.c.seq, _LOG.c.purpose).where(_entries_of(operation))):
            recorded = json.loads(detail)
            entries = lists.setdefault(recorded["status_list"], published_entries(recorded["status_list"]))
            if recorded["status_index"] not in entries:
                undone.add(seq)
    crl = current_crl(session)
    for seq, serial in session.execute(select(_LOG.c.seq, _LOG.c.case_number).where(
            _entries_of(Operation.SEAL_REVOKED))):
        if crl is None or crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is None:
            undone.add(seq)
    return OperationsAgainstChain(len(kept), unrecorded, missing, revocations, len(undone))
