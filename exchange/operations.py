"""Operations in the access log's chain: who changed what the exchange vouches for, and when.

Each change an operator makes at the command line, or a department system over the API, to what
the exchange vouches for — a certificate or license revoked, a license issued or amended, licenses
imported, a seal issued, rotated or revoked, the city's root set up, a department system
registered, given a new token or revoked, a catalog version published, the CRL or the status
lists signed again by hand, an encryption key added or retired and values moved to it — appends an entry of
outcome `operation` in the transaction that makes the change (`record_operation`): `reason` is the
operation's code (`exchange.operation_codes`), `client_id` the department system or
`caseworker_id` the operator, `consumer_department` the department whose certificate, license,
seal or system it is, `case_number` what was changed (by the exchange's own identifier) and
`purpose` the detail. The entries are found by the partial index `ix_access_log_operations`.

The exchange relies on some of these entries whatever the tables say (a department system's
registration, credentials and revocation, a certificate's or license's revocation:
`revocations_in_chain`, a catalog version's content: `as_published`);
`exchange.operations_audit` compares the tables with all of them for the auditor.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from sqlalchemy import ColumnElement, Connection, and_, select
from sqlalchemy.orm import Session

from catalog.citizen_id import mask_free_text
from catalog.errors import NoCatalogPublished
from catalog.loading import catalog_from_document
from catalog.model import Catalog
from catalog.versions import PublishOutcome, latest_version, publish
from core.canonical import canonical_json, canonical_sha256
from core.orm import plain_connection
from exchange.access_log import AccessEntry, AccessRecord, Outcome, append_access, operation_entries
from exchange.operation_codes import Operation
from seals.registry import current_crl

if TYPE_CHECKING:
    from catalog.versions import CatalogVersion
    from exchange.clients import AuthenticatedClient

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


def record_crl_signed(session: Session, actor: Actor, *, forced: bool) -> None:
    """The entry of the CRL the city root just signed outside a revocation (`refresh_crl`), by its
    number; `forced` when the operator had it signed before it was due."""
    crl = current_crl(session)
    assert crl is not None  # just signed
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    record_operation(session, Operation.CRL_SIGNED, actor, str(number), detail="forced" if forced else None)


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
    for (detail,) in session.execute(select(_LOG.c.purpose).where(entries_of(operation))):
        yield json.loads(detail)


def record_publication(session: Session, version: CatalogVersion, actor: Actor) -> None:
    """The entry of a catalog version just published."""
    record_operation(session, Operation.CATALOG_PUBLISHED, actor, str(version.number),
                     detail=publication_detail(version.content_hash, version.published_by, version.note))


def publish_recorded(session: Session, catalog: Catalog, published_by: str, note: str | None, actor: Actor, *,
                     base: int | None = None) -> PublishOutcome:
    """`catalog.versions.publish`, and the new version's entry by `actor` (none when the content
    is live already): the exchange serves no version without it (`as_published`)."""
    outcome = publish(session, catalog, published_by, note, base=base)
    if outcome.created:
        record_publication(session, outcome.version, actor)
    return outcome


class CatalogNotAsPublished(Exception):
    """A catalog version's stored document is not the content the access log's chain records as
    published under its number (its document, or its hash too, changed beside the exchange): the
    exchange does not use it."""


def published_content_hashes(database: Session | Connection) -> dict[int, frozenset[str]]:
    """The content hashes the chain records as published, by version number."""
    recorded: dict[int, set[str]] = {}
    for number, detail in plain_connection(database).execute(
            select(_LOG.c.case_number, _LOG.c.purpose).where(entries_of(Operation.CATALOG_PUBLISHED))):
        recorded.setdefault(int(number), set()).add(json.loads(detail)["content_hash"])
    return {number: frozenset(hashes) for number, hashes in recorded.items()}


def as_published(recorded: Mapping[int, Collection[str]], number: int, content_hash: str,
                 document: dict[str, Any]) -> dict[str, Any]:
    """`document`, stored as version `number` under `content_hash`, if it hashes to that and the
    chain records (`recorded`: `published_content_hashes`) its publication under that number;
    `CatalogNotAsPublished` otherwise. The server checks each version once per process, before it
    parses it: sharing rules widened in `catalog_versions` by hand are never served. The entry
    holds the hash as the log keeps typed text (`publication_detail`): a hash ending in eighteen
    digits is masked there, and compared so."""
    if canonical_sha256(document) != content_hash or mask_free_text(content_hash) not in recorded.get(number, ()):
        raise CatalogNotAsPublished(f"catalog version {number} is not as the access log's chain records its "
                                    "publication: its document was changed beside the exchange")
    return document


def live_catalog_as_published(session: Session) -> Catalog:
    """The live catalog, parsed once `as_published` has vouched for it: for the commands (the
    server and the jobs check theirs through `api.runtime`). `NoCatalogPublished` before the first
    publication, `CatalogNotAsPublished` for a document changed beside the exchange."""
    version = latest_version(session)
    if version is None:
        raise NoCatalogPublished("no catalog has been published yet")
    return catalog_from_document(as_published(published_content_hashes(session), version.number,
                                              version.content_hash, version.document))


def entries_of(operation: Operation) -> ColumnElement[bool]:
    """The entries of `operation` (through `ix_access_log_operations`)."""
    return and_(operation_entries(), _LOG.c.reason == operation.value)
