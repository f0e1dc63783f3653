"""The city's stored status lists — the lists of e-certificates and the list of e-license versions
(`exchange.licenses`) — which entry a new item gets, and the signed lists verifiers fetch, each
kept equal to the table of what it covers. A `StatusListKind` says which family of lists, the size
of each, and how to read a list's set entries from its table.

Several lists per kind. A list has `capacity` entries to hand out (by default all of its `size`);
when one is full the next item opens the kind's next list. List 1 (certificates) and list 2
(licenses) are the first lists of their kinds, at the addresses they always had; every further
list gets the next free number from the counter `status-list-ids` and its own address
`…/api/v1/status-lists/N`. A `status_lists` row names its kind and its position in the kind
(`ordinal`, unique together), so a list is opened once whoever opens it.

Allocation: the `n`-th item of a kind (`n` from the atomic counter `status-entry:<first list>`) goes
to the kind's list `n // capacity`, at entry `entry_index(n % capacity, key)` where `key` is that
list's random permutation key: one counter increment per item, no scan of what is allocated, never
the same (list, entry) twice. The counter row stays locked until the allocating transaction ends,
so the item that opens a list is the only one that can (the next waits for its commit); the unique
(kind, ordinal) claim makes a second opening a no-op all the same.

A signed list is derived, never edited: every signing reads the revoked (or superseded) items
of that list from their table, and keeps every entry the list as last signed had set (a published
revocation is final: records edited in the database to make a revoked certificate valid again
are not followed by the next signing; `check_status_list` reports them). A revocation first
takes the list's row lock (`UPDATE … revision + 1`), then marks the item and signs that list again in the same transaction, so two revocations at
once are signed one after the other and the second signing sees the first; the other lists are
not touched. The jobs process re-signs each list before it expires (`refresh_status_list`); a GET
only reads what is stored. `check_status_list` compares a signed list with its table;
`rebuild_status_list` re-signs it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Integer, LargeBinary, String, Text, UniqueConstraint, bindparam, exists, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.driver_reads import first_row
from core.orm import Base, UtcDateTime, plain_connection
from exchange.certificate_records import CertificateStatus, IssuedCertificate
from exchange.certificates.status_list import (
    DEFAULT_VALIDITY,
    REVOCATION_REASONS,
    MIN_ENTRIES,
    StatusList,
    StatusListError,
    StatusListSource,
    entry_index,
    read_status_list,
    sign_status_list,
)
from exchange.counters import next_value
from exchange.operation_codes import Operation
from exchange.operations import revocations_in_chain
from core.base64url import b64url_decode
from seals.errors import KeyUnavailable, NoActiveSeal
from seals.registry import TRUST_VERSION, active_signer, held_signer, trust_store, trust_store_of_version
from seals.settings import SealSettings
from seals.trust import TrustStore

log = logging.getLogger(__name__)

REFRESH_BEFORE_EXPIRY = timedelta(hours=6)
"""The jobs process re-signs a list that has less than this left."""
STATUS_LIST_PATH = "/api/v1/status-lists/"
FIXED_LIST_IDS = 2
"""Lists 1 and 2 are the first lists of certificates and licenses; opened lists are numbered after them."""
MAX_LIST_ID = 2**31 - 1
"""No list number is larger (the column is a 32-bit integer): a larger one names no list."""
_KEY_BYTES = 16


class StatusListRecord(Base):
    """One status list: its kind and place in it, its permutation key, how often it was signed, and
    its current signed form."""

    __tablename__ = "status_lists"
    __table_args__ = (UniqueConstraint("kind", "ordinal", name="uq_status_lists_kind_ordinal"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    ordinal: Mapped[int] = mapped_column(Integer)
    index_key: Mapped[bytes] = mapped_column(LargeBinary)
    revision: Mapped[int] = mapped_column(Integer)
    token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class StatusListKind:
    """A family of the city's status lists: its name, its first list, the size of each list, and
    its table's view of a list."""

    name: str
    first_list_id: int
    size: int
    set_entries: Callable[[Session, int], Iterable[tuple[int, str | None]]]
    """(index, reason) of every entry of list N that must be set: its revoked (or superseded) items."""
    in_use: Callable[[Session, int, int], bool]
    """Whether an item already holds entry I of list N (items allocated before the counter existed)."""
    revocation: Operation
    """The operation whose entries in the access log's chain name the list entries a revocation
    set (`revocations_in_chain`): every signing keeps them set."""
    capacity: int | None = None
    """Entries a list hands out before the next list opens (default: all of `size`). Fixed for an
    installation: the counter's `n` maps to a list by it."""
    max_lists: int | None = None
    """How many lists the kind may open (None: as many as it needs)."""

    def __post_init__(self) -> None:
        if self.capacity is not None and not 0 < self.capacity <= self.size:
            raise ValueError(f"a list of {self.size} entries hands out 1 to {self.size} of them")

    @property
    def entries_per_list(self) -> int:
        return self.size if self.capacity is None else self.capacity


def _revoked_certificates(session: Session, list_id: int) -> Iterable[tuple[int, str | None]]:
    return session.execute(select(IssuedCertificate.status_index, IssuedCertificate.revocation_reason).where(
        IssuedCertificate.status == CertificateStatus.REVOKED, IssuedCertificate.status_list == list_id)).all()


def _certificate_holds(session: Session, list_id: int, index: int) -> bool:
    return bool(session.scalar(select(exists().where(IssuedCertificate.status_list == list_id,
                                                     IssuedCertificate.status_index == index))))


CERTIFICATES = StatusListKind("certificates", 1, MIN_ENTRIES, _revoked_certificates, _certificate_holds,
                              Operation.CERTIFICATE_REVOKED)
"""The certificates' lists: list 1, then as many as the city's certificates fill."""


class ListEntry(NamedTuple):
    """An allocated status entry: which list, which index in it, and whether it is the list's first
    entry (the allocation that opened the list; the issuer then signs the new list at once)."""

    list_id: int
    index: int
    opened: bool = False


@dataclass(frozen=True)
class StatusListSigning:
    """What signing a list needs: the seal settings, the exchange's department (whose seal signs)
    and the installation's public URL, under which list N is `…/api/v1/status-lists/N`."""

    seal_settings: SealSettings
    exchange_department: str
    public_url: str
    former_public_urls: tuple[str, ...] = ()
    """Addresses the installation had before (newest first): its lists name them as aliases."""

    def url(self, list_id: int) -> str:
        return f"{self.public_url}{STATUS_LIST_PATH}{list_id}"

    def aliases(self, list_id: int) -> tuple[str, ...]:
        return tuple(f"{url}{STATUS_LIST_PATH}{list_id}" for url in self.former_public_urls)


@dataclass(frozen=True)
class StatusListCheck:
    """A signed list compared with its table."""

    list_id: int
    set_in_table: int
    missing: tuple[int, ...]
    """Entries set in the table but not in the signed list: revocations verifiers do not see."""
    extra: tuple[int, ...]
    """Entries set in the signed list whose item is not revoked in the table: a revocation the
    records lost (edited or restored without it); signing again keeps them set."""
    problem: str | None
    """Why the signed list cannot be used (never signed, signature, stale), if it cannot."""

    @property
    def agrees(self) -> bool:
        return not self.missing and not self.extra and self.problem is None

    @property
    def signing_mends(self) -> bool:
        """Whether signing the list again makes it agree: it publishes every revocation of the table
        (nothing missing) and can be read; revocations the records lost it cannot give back."""
        return not self.missing and self.problem is None


def list_id_of(url: str) -> int | None:
    """The number of the list at `url` (`…/api/v1/status-lists/N`), whatever its host; None if none."""
    _, path, number = url.rpartition(STATUS_LIST_PATH)
    if not (path and number.isascii() and number.isdigit() and len(number) <= len(str(MAX_LIST_ID))):
        return None
    return int(number) if int(number) <= MAX_LIST_ID else None


def stored_lists_source(database: Session | Connection, kind: StatusListKind) -> StatusListSource:
    """Where a verifier on this installation finds the signed list of `kind` a certificate names:
    by the number in its URL (the URL itself is checked against the list's `id` and aliases when
    the list is read). The store holds every list the exchange ever signed, so a list it lacks is
    none of the exchange's: `StatusListError` (`status_list_unknown`), and the certificate is not
    called valid on a revocation check that could not be made."""
    def lookup(url: str) -> str:
        list_id = list_id_of(url)
        token = None if list_id is None else stored_status_list(database, list_id, kind)
        if token is None:
            raise StatusListError("status_list_unknown", "the certificate names a status list this service does not have")
        return token
    return lookup


def trust_and_lists_source(database: Session | Connection, kind: StatusListKind,
                           named_url: Callable[[], str | None]) -> tuple[TrustStore, StatusListSource]:
    """The trust material (`seals.registry.trust_store`) and where a verifier finds the signed
    list of `kind` a certificate names (`stored_lists_source`). On a database server,
    `named_url()` says which list the document names, read before it is verified: that list is
    read in the trust material's statement, one round trip for both, and handed out when the
    verified certificate names it (a certificate that names another is looked up then). SQLite
    reads in-process: reading the list apart costs less than reading the document twice."""
    connection = plain_connection(database)
    url = None if connection.dialect.name == "sqlite" else named_url()
    list_id = None if url is None else list_id_of(url)
    if list_id is None:
        return trust_store(connection), stored_lists_source(connection, kind)
    row = first_row(connection, _TRUST_AND_TOKEN_OF_KIND, {"list_id": list_id, "kind": kind.name})
    trust = trust_store_of_version(connection, row)
    fetched = None if row is None else row[len(TRUST_VERSION)]
    others = stored_lists_source(connection, kind)

    def lookup(url: str) -> str | None:
        return fetched if fetched is not None and list_id_of(url) == list_id else others(url)
    return trust, lookup


def allocate_entry(session: Session, kind: StatusListKind) -> ListEntry:
    """The status-list entry of a new item (see the module); commit soon, the counter is locked."""
    while True:
        number = next_value(session, f"status-entry:{kind.first_list_id}") - 1
        ordinal, position = divmod(number, kind.entries_per_list)
        if kind.max_lists is not None and ordinal >= kind.max_lists:
            raise StatusListError("status_list_full", f"all {kind.max_lists * kind.entries_per_list} "
                                                      f"{kind.name} status list entries are allocated")
        list_id, key = _open_list(session, kind, ordinal)
        index = entry_index(position, key, kind.size)
        if not kind.in_use(session, list_id, index):
            return ListEntry(list_id, index, opened=position == 0)


def list_ids(session: Session, kind: StatusListKind) -> list[int]:
    """The numbers of the kind's lists opened so far, first list first (the first even before it
    is opened: it is signed, empty, from the start)."""
    opened = list(session.scalars(select(StatusListRecord.id).where(StatusListRecord.kind == kind.name)
                                  .order_by(StatusListRecord.ordinal)))
    return opened or [kind.first_list_id]


def lock_status_list(session: Session, kind: StatusListKind, list_id: int) -> None:
    """Take the list's row lock until the transaction ends (first, before reading what it covers)."""
    if list_id == kind.first_list_id:
        _ensure_first_list(session, kind)
    session.execute(update(StatusListRecord).where(StatusListRecord.id == list_id)
                    .values(revision=StatusListRecord.revision + 1))


def sign_locked_list(session: Session, kind: StatusListKind, list_id: int, signing: StatusListSigning,
                     now: datetime) -> str:
    """Sign list `list_id` as its table has it now; the caller holds its lock and commits. The
    exchange's seal is held to the commit (`held_signer`): a revocation of it, taken and not yet
    committed, is waited for, so no list is stored with a time at or after it."""
    signer = held_signer(session, signing.seal_settings, signing.exchange_department)
    derived = derived_status_list(session, kind, list_id, signing.url(list_id))
    status_list = replace(_kept_recorded(session, kind, list_id, _kept_published(session, list_id, derived)),
                          aliases=signing.aliases(list_id))
    token = sign_status_list(status_list, signer, now=now)
    session.execute(update(StatusListRecord).where(StatusListRecord.id == list_id)
                    .values(token=token, token_expires_at=now + DEFAULT_VALIDITY))
    return token


def _kept_published(session: Session, list_id: int, derived: StatusList) -> StatusList:
    """`derived` with every entry the stored signed list has set kept set, under its published
    reason: no signing withdraws a revocation its table has lost (edited, or restored without it)."""
    published = _published(stored_status_list(session, list_id))
    if published is None:
        return derived
    lost = published.revoked_indexes() - derived.revoked_indexes()
    if not lost:
        return derived
    log.warning("status list %d: %d entries it published as revoked have no revocation in the records (edited or "
                "lost); they stay revoked", list_id, len(lost))
    return _with_set(derived, [(index, published.reason(index)) for index in lost if index < derived.size])


def published_indexes(session: Session, list_id: int) -> frozenset[int]:
    """The entries the stored signed list `list_id` sets (none when it is not stored)."""
    published = _published(stored_status_list(session, list_id))
    return frozenset(published.revoked_indexes()) if published is not None else frozenset()


def _kept_recorded(session: Session, kind: StatusListKind, list_id: int, derived: StatusList) -> StatusList:
    """`derived` with every entry the access log's chain records a revocation setting kept set,
    under its recorded reason: a row set back, its index moved, and the stored list removed clear
    nothing (`exchange.operations`)."""
    recorded = [(index, reason) for index, reason in revocations_in_chain(session, kind.revocation, list_id)
                if index < derived.size and not derived.is_revoked(index)]
    return _with_set(derived, recorded)


def _with_set(status_list: StatusList, entries: Iterable[tuple[int, str | None]]) -> StatusList:
    """`status_list` with `entries` (index, reason; all within its size) set at once: thousands may be."""
    bits, reasons = bytearray(status_list.bits), dict(status_list.reasons)
    for index, reason in entries:
        bits[index // 8] |= 0x80 >> (index % 8)
        reasons[index] = reason if reason in REVOCATION_REASONS else "unspecified"
    return replace(status_list, bits=bytes(bits), reasons=reasons)


def _published(token: str | None) -> StatusList | None:
    """The list a stored token (our own, signed when stored) publishes; None when there is none."""
    if token is None:
        return None
    try:
        return StatusList.from_claims(json.loads(b64url_decode(token.split(".")[1])))
    except (StatusListError, ValueError, IndexError):
        return None


def rebuild_status_list(session: Session, kind: StatusListKind, list_id: int, signing: StatusListSigning,
                        now: datetime) -> str:
    """Sign the list again from its table, under its lock."""
    lock_status_list(session, kind, list_id)
    return sign_locked_list(session, kind, list_id, signing, now)


def refresh_status_list(session: Session, kind: StatusListKind, list_id: int, signing: StatusListSigning,
                        now: datetime) -> bool:
    """Re-sign the list if it was never signed, expires within `REFRESH_BEFORE_EXPIRY`, was signed
    under another public URL (or other former ones) than the installation's now, or with another
    seal than the exchange's active one (its seal was revoked or rotated); whether it did. With no
    seal it can sign with (none active, or its key unreadable) the list stays as it is until the
    seal officer issues one, and the jobs go on: a warning says so on each pass."""
    row = session.execute(select(StatusListRecord.token, StatusListRecord.token_expires_at)
                          .where(StatusListRecord.id == list_id)).first()
    if row is not None and row.token is not None and row.token_expires_at - now > REFRESH_BEFORE_EXPIRY \
            and _signed_urls(row.token) == (signing.url(list_id), signing.aliases(list_id)) \
            and _signed_by_active_seal(session, row.token, signing):
        return False
    try:
        with session.begin_nested():
            rebuild_status_list(session, kind, list_id, signing, now)
    except (NoActiveSeal, KeyUnavailable) as unsigned:
        log.warning("status list %d is not signed again: %s; issue the exchange a seal (mianzheng seal issue %s)",
                    list_id, unsigned, signing.exchange_department)
        return False
    return True


def stored_status_list(database: Session | Connection, list_id: int, kind: StatusListKind | None = None) -> str | None:
    """The signed list as stored (a read of one plain value, on a session or a bare connection;
    None before it was first signed, or when list `list_id` is not of `kind`)."""
    connection = plain_connection(database)
    if kind is None:
        row = first_row(connection, _STORED_TOKEN, {"list_id": list_id})
    else:
        row = first_row(connection, _STORED_TOKEN_OF_KIND, {"list_id": list_id, "kind": kind.name})
    return None if row is None else row[0]


_STORED_TOKEN = select(StatusListRecord.token).where(StatusListRecord.id == bindparam("list_id"))
_STORED_TOKEN_OF_KIND = _STORED_TOKEN.where(StatusListRecord.kind == bindparam("kind"))
"""`stored_status_list`'s statements, built once: every certificate verification runs one."""
_TRUST_AND_TOKEN_OF_KIND = select(*TRUST_VERSION, _STORED_TOKEN_OF_KIND.scalar_subquery()).limit(1)
"""`trust_and_lists_source`'s statement: the trust material's version and the named list."""


def stored_status_lists(session: Session, kind: StatusListKind) -> list[str]:
    """Every signed list of the kind as stored, first list first (those never signed left out)."""
    return list(session.scalars(select(StatusListRecord.token).where(
        StatusListRecord.kind == kind.name, StatusListRecord.token.is_not(None)).order_by(StatusListRecord.ordinal)))


def derived_status_list(session: Session, kind: StatusListKind, list_id: int, url: str) -> StatusList:
    """The list as its table says it must be: the set entries and their reasons."""
    status_list = StatusList.empty(url, kind.size)
    bits = bytearray(status_list.bits)
    reasons: dict[int, str] = {}
    for index, reason in kind.set_entries(session, list_id):
        bits[index // 8] |= 0x80 >> (index % 8)
        reasons[index] = reason or "unspecified"
    return StatusList(url, bytes(bits), reasons)


def check_status_list(session: Session, kind: StatusListKind, list_id: int, trust: TrustStore, url: str,
                      now: datetime) -> StatusListCheck:
    """Compare the stored signed list (its signature checked against `trust`) with its table."""
    expected = derived_status_list(session, kind, list_id, url).revoked_indexes()
    token = stored_status_list(session, list_id)
    if token is None:
        return StatusListCheck(list_id, len(expected), tuple(sorted(expected)), (), "status_list_unsigned")
    try:
        published, problem = read_status_list(token, trust, now=now).revoked_indexes(), None
    except StatusListError as unusable:
        if unusable.code != "status_list_stale":
            return StatusListCheck(list_id, len(expected), tuple(sorted(expected)), (), unusable.code)
        stale = _published(token)  # its signature was checked: only its time failed
        published, problem = (stale.revoked_indexes() if stale is not None else set()), unusable.code
    return StatusListCheck(list_id, len(expected), tuple(sorted(expected - published)),
                           tuple(sorted(published - expected)), problem)


def _signed_by_active_seal(session: Session, token: str, signing: StatusListSigning) -> bool:
    """Whether a stored token (our own) was signed with the exchange's active seal; True too when
    the exchange has no active seal, as nothing could sign it again."""
    try:
        active = active_signer(session, signing.seal_settings, signing.exchange_department).key_id
    except NoActiveSeal:
        return True
    return json.loads(b64url_decode(token.split(".")[0])).get("kid") == active


def _signed_urls(token: str) -> tuple[str | None, tuple[str, ...]]:
    """The `id` (the list's URL) and the aliases a stored token was signed with; the token is our own."""
    claims = json.loads(b64url_decode(token.split(".")[1]))
    return claims.get("id"), tuple(claims.get("alsoKnownAs", ()))


def _open_list(session: Session, kind: StatusListKind, ordinal: int) -> tuple[int, bytes]:
    """The number and permutation key of the kind's list `ordinal`, opening it if it is new."""
    found = session.execute(select(StatusListRecord.id, StatusListRecord.index_key).where(
        StatusListRecord.kind == kind.name, StatusListRecord.ordinal == ordinal)).first()
    if found is None:
        list_id = kind.first_list_id if ordinal == 0 else next_value(session, "status-list-ids",
                                                                         start_after=FIXED_LIST_IDS)
        _insert_list(session, kind, ordinal, list_id)
        found = session.execute(select(StatusListRecord.id, StatusListRecord.index_key).where(
            StatusListRecord.kind == kind.name, StatusListRecord.ordinal == ordinal)).one()
    return found.id, found.index_key


def _ensure_first_list(session: Session, kind: StatusListKind) -> None:
    _insert_list(session, kind, 0, kind.first_list_id)


def _insert_list(session: Session, kind: StatusListKind, ordinal: int, list_id: int) -> None:
    session.execute(text("INSERT INTO status_lists (id, kind, ordinal, index_key, revision) "
                         "VALUES (:id, :kind, :ordinal, :key, 0) ON CONFLICT DO NOTHING"),
                    {"id": list_id, "kind": kind.name, "ordinal": ordinal, "key": os.urandom(_KEY_BYTES)})
