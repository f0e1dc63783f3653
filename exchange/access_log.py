"""The tamper-evident access log: every exchange request — allowed, denied or failed — every
consent a citizen gives or withdraws, and every operation that changes what the exchange vouches
for, as one hash-chained, append-only entry each.

Entry `n` stores `prev_hash` (the `entry_hash` of entry `n-1`; 64 zeros for entry 1) and
`entry_hash = SHA-256(prev_hash || canonical JSON of the entry)`, where `prev_hash` enters as
its 64 ASCII hex characters and the canonical JSON (`canonical_entry`) holds the format version,
the sequence number, the UTC time and every field, with sorted keys, no whitespace, UTF-8.
Editing, deleting or reordering an entry breaks the chain at the first affected sequence
number, which `verify_chain` names. Truncating the newest entries (or rewriting the whole
tail) is only detected against a head recorded earlier: see docs/access-log.md on anchoring.

An operator's or a department system's change to what the exchange vouches for (a revocation, a
license issued, a seal, a client, a catalog version) is an entry too (outcome `operation`,
`exchange.operations`).

A consent counts only as the chain records it (`exchange.consent`): its grant is an entry
(outcome `granted`, its terms in `purpose`), its withdrawal another (`withdrawn`), its end with
its application a third (`ended`); the exchange
reads both through the partial index `ix_access_log_consent_events` whenever it relies on a
consent, so a withdrawal undone in the `consents` table, or a consent added there, changes nothing.

Citizens are recorded by subject key (`exchange.subjects`) only. Free-text fields are scanned
for anything shaped like an ID number, which is masked before it is stored.

Concurrency: the sequence number is the primary key, so two appends can never both take the
same place. `append_access` first takes the chain lock of the engine (a transaction-scoped
advisory lock on PostgreSQL, the write lock on SQLite), so inside one transaction it reads
the true head; the lock is held until the caller commits, so append last. `record_access`
appends in a transaction of its own and retries a few times when an append loses a race.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import (BigInteger, ColumnElement, Connection, Index, String, Text, event, func, literal_column,
                        null, select, text)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import Pool

from core.canonical import canonical_json
from core.sqlite_writer import begin_write
from catalog.citizen_id import mask_free_text
from core.orm import Base, UtcDateTime
from exchange.errors import ExchangeError, InvalidInput
from exchange.operation_codes import Operation

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"mianzheng.access_log").digest()[:8], "big", signed=True)
"""The PostgreSQL advisory lock that serialises appends."""
DEFAULT_ATTEMPTS = 5
_VERIFY_BATCH = 10_000
"""Rows `verify_chain` fetches at a time."""
MAX_ID_LENGTH = 128
"""Longest request id, client id, caseworker id, case number or consent reference the log takes."""
MAX_CODE_LENGTH = 64
"""Longest department, matter or proof code the log takes."""
_LIMITS = {
    **{name: MAX_ID_LENGTH for name in ("request_id", "client_id", "caseworker_id", "case_number", "consent_id")},
    **{name: MAX_CODE_LENGTH for name in ("consumer_department", "matter", "proof")},
}

_SUBJECT_KEY = re.compile(r"[0-9a-f]{64}")


class Outcome(StrEnum):
    ALLOWED = "allowed"
    """The data was pulled and returned (also when the source holds no record: reason `subject-not-found`)."""
    DENIED = "denied"
    """The exchange refused: credentials, sharing rules, consent or invalid input."""
    FAILED = "failed"
    """The exchange could not answer: the source was unavailable or the service failed."""
    GRANTED = "granted"
    """Not an access: the citizen (or a counter on their written request) gave the consent
    `consent_id`; `purpose` holds its terms (`exchange.consent.granted_terms`)."""
    WITHDRAWN = "withdrawn"
    """Not an access: the consent `consent_id` was withdrawn."""
    ENDED = "ended"
    """Not an access: the counter consent `consent_id` ended with its application, at `recorded_at`."""
    OPERATION = "operation"
    """Not an access: a change to what the exchange vouches for, `reason` saying which
    (`exchange.operation_codes.Operation`), made by the department system `client_id` or the
    operator `caseworker_id` (`exchange.operations`)."""


CONSENT_EVENTS = (Outcome.GRANTED.value, Outcome.WITHDRAWN.value, Outcome.ENDED.value)
"""The outcomes of the entries that record consents rather than accesses."""
NOT_ACCESSES = (*CONSENT_EVENTS, Outcome.OPERATION.value)
"""The outcomes of every entry that records something other than an access."""


class Reason(StrEnum):
    """The reason codes an entry may carry: why it was refused or failed, or how it was answered.
    docs/access-log.md lists them; nothing else is accepted."""

    REPLAYED = "replayed"
    """A repeated request id, answered from the stored answer without pulling again."""
    UNAUTHENTICATED = "unauthenticated"
    """No valid client credentials."""
    INSUFFICIENT_SCOPE = "insufficient-scope"
    """The client's credentials lack the scope of the endpoint."""
    INVALID_REQUEST = "invalid-request"
    """The request was malformed or named something the catalog does not have."""
    FORBIDDEN_BY_POLICY = "forbidden-by-policy"
    """The catalog's sharing rules do not let this department ask for this proof in this matter."""
    CONSENT_MISSING = "consent-missing"
    CONSENT_EXPIRED = "consent-expired"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    CONSENT_MISMATCH = "consent-mismatch"
    CONFLICT = "conflict"
    """The request id is in use for another request, or its first use is still running."""
    SUBJECT_NOT_FOUND = "subject-not-found"
    """The source was asked and holds no record of the subject (an allowed access)."""
    SOURCE_UNAVAILABLE = "source-unavailable"
    """The source did not answer now (timeout, down, a 5xx, its breaker open): worth retrying."""
    SOURCE_ERROR = "source-error"
    """The source answered against its contract, or refused the query: no retry mends it."""
    INTERNAL_ERROR = "internal-error"
    """The exchange failed while answering."""


_REASON_CODES = frozenset(reason.value for reason in Reason)
_OPERATION_CODES = frozenset(operation.value for operation in Operation)
REASON_ZH: Mapping[str, str] = MappingProxyType({
    Reason.REPLAYED: "重复请求，按首次答复提供", Reason.UNAUTHENTICATED: "未认证或凭据无效",
    Reason.INSUFFICIENT_SCOPE: "调用系统无此权限", Reason.INVALID_REQUEST: "请求内容有误",
    Reason.FORBIDDEN_BY_POLICY: "共享规则不允许此次请求", Reason.CONSENT_MISSING: "没有本人授权",
    Reason.CONSENT_EXPIRED: "本人授权已过期", Reason.CONSENT_WITHDRAWN: "本人已撤回授权",
    Reason.CONSENT_MISMATCH: "本人授权不涵盖此次请求", Reason.CONFLICT: "请求编号冲突",
    Reason.SUBJECT_NOT_FOUND: "数据源中没有该主体的记录", Reason.SOURCE_UNAVAILABLE: "数据源部门暂时无法访问",
    Reason.SOURCE_ERROR: "数据源部门的答复有误或拒绝了查询",
    Reason.INTERNAL_ERROR: "服务内部错误",
})
"""What each reason code means, for citizens."""


class ChainConflict(ExchangeError):
    """Another append took this sequence number first; retry in a new transaction."""


@dataclass(frozen=True)
class AccessEntry:
    """What one entry records. Only `outcome` is required; `reason` (a `Reason` code) is required
    when denied or failed, an operation's carries its `Operation` code, and a consent's entries carry none."""

    outcome: Outcome
    reason: str | None = None
    request_id: str | None = None
    client_id: str | None = None
    consumer_department: str | None = None
    caseworker_id: str | None = None
    case_number: str | None = None
    matter: str | None = None
    proof: str | None = None
    subject_key: str | None = None
    legal_basis: str | None = None
    consent_id: str | None = None
    purpose: str | None = None


ENTRY_FIELDS = tuple(f.name for f in fields(AccessEntry))
_FREE_TEXT = ("request_id", "caseworker_id", "case_number", "legal_basis", "purpose")
_TYPED_IN_AN_OPERATION = ("caseworker_id", "purpose")
"""An operation's `case_number` names what it changed by the exchange's own identifier (a
certificate's holds its issuer's credit code, which is shaped like an ID number)."""


class AccessRecord(Base):
    """One stored entry of the chain."""

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(MAX_ID_LENGTH), index=True)
    client_id: Mapped[str | None] = mapped_column(String(MAX_ID_LENGTH))
    consumer_department: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    caseworker_id: Mapped[str | None] = mapped_column(String(MAX_ID_LENGTH))
    case_number: Mapped[str | None] = mapped_column(String(MAX_ID_LENGTH))
    matter: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    proof: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    subject_key: Mapped[str | None] = mapped_column(String(64), index=True)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    consent_id: Mapped[str | None] = mapped_column(String(MAX_ID_LENGTH))
    purpose: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_access_log_consent_events", "consent_id", "subject_key",
              sqlite_where=text(f"outcome IN {CONSENT_EVENTS}"), postgresql_where=text(f"outcome IN {CONSENT_EVENTS}")),
        Index("ix_access_log_operations", "reason", "case_number",
              sqlite_where=text("outcome = 'operation'"), postgresql_where=text("outcome = 'operation'")),
    )
    """Only the consents' own entries, found by consent (and citizen: SQLite, which keeps no
    statistics, then prefers it to `subject_key`'s index for a consent's grant): the exchange
    reads them on every access that relies on a consent (`consent_events` gives a query the
    index's very predicate). The operations' entries have theirs (`exchange.operations`), found
    by operation and what it changed."""

    def values(self) -> dict[str, str | None]:
        """The entry's fields as stored, as the hash covers them."""
        return {name: getattr(self, name) for name in ENTRY_FIELDS}


def operation_entries() -> ColumnElement[bool]:
    """The predicate of `ix_access_log_operations`, as written there (see `consent_events`)."""
    return text("access_log.outcome = 'operation'")


def consent_events() -> ColumnElement[bool]:
    """The predicate of `ix_access_log_consent_events`, as written there: SQLite uses a partial
    index only for a query whose WHERE holds its predicate term for term."""
    return text(f"access_log.outcome IN {CONSENT_EVENTS}")


@dataclass(frozen=True)
class ChainHead:
    """The newest entry: its sequence number and hash. Recording it elsewhere anchors the chain."""

    seq: int
    entry_hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.entry_hash}"

    @classmethod
    def parse(cls, text_value: str) -> ChainHead:
        seq, _, entry_hash = text_value.partition(":")
        if not seq.isdigit() or int(seq) < 1 or not _SUBJECT_KEY.fullmatch(entry_hash):
            raise InvalidInput("head", "expected SEQ:HASH, e.g. 42:9f86d0…(64 hex characters)")
        return cls(int(seq), entry_hash)


class ChainFault(StrEnum):
    MISSING_ENTRY = "missing-entry"
    """A sequence number is absent: an entry was deleted."""
    CONTENT_CHANGED = "content-changed"
    """The entry's content no longer hashes to its entry_hash: it was edited or moved."""
    BROKEN_LINK = "broken-link"
    """prev_hash is not the previous entry's hash: an entry before it was edited, replaced or reordered."""
    HEAD_MISMATCH = "head-mismatch"
    """The anchored head is missing or different: the chain was truncated or rewritten."""
    UNEXPECTED_ENTRY = "unexpected-entry"
    """An entry numbered below the chain's first (0 or less): it was inserted."""


@dataclass(frozen=True)
class ChainVerdict:
    """The result of `verify_chain`: intact, or the first bad sequence number and why."""

    entries: int
    head: ChainHead | None
    first_bad_seq: int | None = None
    fault: ChainFault | None = None

    @property
    def intact(self) -> bool:
        return self.fault is None


@dataclass(frozen=True)
class AccessPage:
    total: int
    entries: list[AccessRecord]
    more: bool = False
    """Whether older entries follow the page."""


def canonical_entry(seq: int, recorded_at: datetime, values: Mapping[str, str | None]) -> bytes:
    """The bytes an entry's hash covers besides the previous hash; `values` has every ENTRY_FIELDS name."""
    document = {
        "v": FORMAT_VERSION,
        "seq": seq,
        "recorded_at": utc_stamp(recorded_at),
        **{name: values[name] for name in ENTRY_FIELDS},
    }
    return canonical_json(document)


def utc_stamp(at: datetime) -> str:
    """A time as the chain writes it: UTC, microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, seq: int, recorded_at: datetime, values: Mapping[str, str | None]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_entry(seq, recorded_at, values)).hexdigest()


def append_access(session: Session, entry: AccessEntry, *, now: datetime | None = None,
                  write_ahead: bool = False) -> AccessRecord:
    """Append `entry` in the caller's transaction (flushed, not committed).

    Holds the chain lock until the caller's transaction ends. Raises `ChainConflict` if the
    place was taken anyway (the transaction is then unusable: roll back and retry).

    `write_ahead`: the entry logs an access before it happens, and nothing of that access is
    answered before a later durable commit of the same database (the stored answer, or the
    refusal). The transaction's commit then returns once the entry is written and visible
    (it survives the process), without waiting for the disk; the later durable commit flushes
    the database's write-ahead log up to itself, this entry included. This halves the time the
    chain lock is held through a commit. See docs/access-log.md, "Durability".
    """
    [record] = append_accesses(session, [entry], now=now, write_ahead=write_ahead)
    return record


def append_accesses(session: Session, entries: Sequence[AccessEntry], *, now: datetime | None = None,
                    write_ahead: bool = False) -> list[AccessRecord]:
    """`append_access` of several entries, one after the other in the chain: the chain lock is
    taken and the head read once, and the entries go in with one INSERT. Nothing for no entries."""
    if not entries:
        return []
    clean = [_validated(entry) for entry in entries]
    _lock_chain(session, write_ahead=write_ahead)
    head = chain_head(session)
    seq = head.seq if head else 0
    prev_hash = head.entry_hash if head else GENESIS_HASH
    at = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    rows = []
    for entry in clean:
        seq += 1
        values = {name: getattr(entry, name) for name in ENTRY_FIELDS}
        values["outcome"] = entry.outcome.value
        row = {"seq": seq, "recorded_at": at, "prev_hash": prev_hash,
               "entry_hash": entry_hash(prev_hash, seq, at, values), **values}
        rows.append(row)
        prev_hash = row["entry_hash"]
    try:  # a plain INSERT on the session's connection: the ORM's unit of work adds nothing for these rows
        session.connection().execute(_INSERT_ENTRY, rows)
    except IntegrityError as error:
        raise ChainConflict(f"access log entries {rows[0]['seq']}-{seq} were appended concurrently") from error
    return [AccessRecord(**row) for row in rows]


_INSERT_ENTRY = AccessRecord.__table__.insert()


def record_access(
    sessions: sessionmaker[Session],
    entry: AccessEntry,
    *,
    alongside: Callable[[Session], None] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    now: datetime | None = None,
) -> ChainHead:
    """Append `entry` in a transaction of its own, committed; retried when it loses a race.

    `alongside(session)` runs first in the same transaction, so its writes (e.g. the stored
    answer of a request) commit together with the entry or not at all; on a retry it runs
    again in the new transaction. An exception other than a lost race or a lock timeout
    propagates and nothing is committed. Do not call this while another session of the same
    SQLite database holds the write lock in this thread.
    """
    def decide(session: Session) -> AccessEntry:
        if alongside is not None:
            alongside(session)
        return entry

    return record_decided_access(sessions, decide, attempts=attempts, now=now)


def record_decided_access(
    sessions: sessionmaker[Session],
    decide: Callable[[Session], AccessEntry],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    now: datetime | None = None,
    write_ahead: bool = False,
) -> ChainHead:
    """`record_access` of the entry `decide(session)` returns: it runs first in the transaction
    (again on a retry), reads and writes what the entry depends on (a reservation, a consent),
    and commits together with the entry; an exception it raises propagates, nothing committed.

    `write_ahead`: see `append_access`; only for an access still to happen, never a replay or a
    refusal, whose answer leaves at once.
    """
    head = record_decided_accesses(sessions, lambda session: [decide(session)], attempts=attempts, now=now,
                                   write_ahead=write_ahead)
    assert head is not None, "one entry was appended"
    return head


def record_decided_accesses(
    sessions: sessionmaker[Session],
    decide: Callable[[Session], Sequence[AccessEntry]],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    now: datetime | None = None,
    write_ahead: bool = False,
    retry_on: tuple[type[Exception], ...] = (),
) -> ChainHead | None:
    """`record_decided_access` of the entries `decide(session)` returns, appended together (none
    is fine: the head is then None). A lost race for the chain or a lock, or one of `retry_on`
    (e.g. a unique claim `decide` makes), rolls the transaction back and runs `decide` again in
    a new one, at most `attempts` times."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    last_error: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
        try:
            with sessions.begin() as session:
                if write_ahead:
                    _relax_sqlite_sync(session)  # before the transaction's first write
                begin_write(session)
                records = append_accesses(session, decide(session), now=now, write_ahead=write_ahead)
                return ChainHead(records[-1].seq, records[-1].entry_hash) if records else None
        except (ChainConflict, OperationalError, *retry_on) as error:
            last_error = error
    raise ChainConflict(f"could not append to the access log in {attempts} attempts") from last_error


def chain_head(session: Session) -> ChainHead | None:
    row = session.connection().execute(_HEAD).first()
    return ChainHead(row.seq, row.entry_hash) if row else None


_LOG = AccessRecord.__table__
_HEAD = select(_LOG.c.seq, _LOG.c.entry_hash).order_by(_LOG.c.seq.desc()).limit(1)
"""`chain_head`'s statement, built once: every append runs it."""


def verify_chain(session: Session, *, expected_head: ChainHead | None = None,
                 segments: int = 1) -> ChainVerdict:
    """Recompute the whole chain; name the first bad sequence number and the fault.

    `expected_head` is a head recorded earlier (an anchor): the chain must still contain it.
    `segments`: check the sequence range in that many consecutive segments, one after the
    other, joined as `join_segments` does (the same verdict; `exchange.access_log_audit`
    checks segments in parallel processes).
    """
    connection = session.connection()
    last = connection.scalar(select(func.max(AccessRecord.seq)))
    return join_segments([check_segment(connection, first, end, expected_head)
                          for first, end in segment_bounds(last, segments)], expected_head)


def segment_bounds(last: int | None, segments: int) -> list[tuple[int, int]]:
    """The sequence range 1..`last` cut into at most `segments` consecutive (first, last) pairs;
    none for an empty log. The first segment also takes any entry numbered below 1."""
    if last is None:
        return []
    size = max(1, -(-last // segments))
    return [(first, min(last, first + size - 1)) for first in range(1, max(last, 1) + 1, size)]


@dataclass(frozen=True)
class SegmentCheck:
    """What checking the entries `first`..`last` found. The link of its first entry to the
    entry before is left to `join_segments`; everything else is checked in sequence order."""

    first: int
    entries: int
    """Entries found in order and intact from `first` on, before any fault."""
    head: ChainHead | None
    """The last of those entries."""
    first_prev_hash: str | None
    """The stored `prev_hash` of entry `first`, when it was found and its content hashes."""
    first_bad_seq: int | None = None
    fault: ChainFault | None = None
    anchor_seen: bool = False


def check_segment(connection: Connection, first: int, last: int,
                  expected_head: ChainHead | None) -> SegmentCheck:
    """Check entries `first`..`last` (and below 1 when `first` is 1) in sequence order."""
    previous: str | None = None
    first_prev_hash: str | None = None
    count = 0
    anchor_seen = False

    def found(seq: int | None = None, fault: ChainFault | None = None) -> SegmentCheck:
        head = ChainHead(first + count - 1, previous) if previous is not None else None
        return SegmentCheck(first, count, head, first_prev_hash, seq, fault, anchor_seen)

    for expected_seq, (seq, prev_hash, stored_hash, hashed) in enumerate(
            _stream_entries(connection, first, last), start=first):
        if seq < expected_seq:  # only below 1: sequence numbers are unique
            return found(seq, ChainFault.UNEXPECTED_ENTRY)
        if seq != expected_seq:
            return found(expected_seq, ChainFault.MISSING_ENTRY)
        if not _hashes_to(stored_hash, hashed, seq, prev_hash, connection):
            return found(seq, ChainFault.CONTENT_CHANGED)
        if previous is None:
            first_prev_hash = prev_hash
        elif prev_hash != previous:
            return found(seq, ChainFault.BROKEN_LINK)
        if expected_head is not None and seq == expected_head.seq:
            if stored_hash != expected_head.entry_hash:
                return found(seq, ChainFault.HEAD_MISMATCH)
            anchor_seen = True
        previous = stored_hash
        count += 1
    if first + count <= last:  # the segment's last entries are gone
        return found(first + count, ChainFault.MISSING_ENTRY)
    return found()


def join_segments(checks: list[SegmentCheck], expected_head: ChainHead | None) -> ChainVerdict:
    """The verdict on the whole chain from its consecutive segments: each segment's first entry
    must link to the last entry of the one before (to the genesis hash for the first), and the
    first fault in sequence order is the chain's."""
    previous = GENESIS_HASH
    count = 0
    head: ChainHead | None = None
    anchor_seen = expected_head is None
    for check in checks:
        if check.first_prev_hash is not None and check.first_prev_hash != previous:
            return ChainVerdict(count, head, check.first, ChainFault.BROKEN_LINK)
        count += check.entries
        head = check.head or head
        if check.fault is not None:
            return ChainVerdict(count, head, check.first_bad_seq, check.fault)
        anchor_seen = anchor_seen or check.anchor_seen
        previous = head.entry_hash if head else previous
    if not anchor_seen:
        assert expected_head is not None
        return ChainVerdict(count, head, (head.seq + 1) if head else 1, ChainFault.HEAD_MISMATCH)
    return ChainVerdict(count, head)


def _stream_entries(connection: Connection, first: int, last: int) -> Iterator[tuple[Any, ...]]:
    """Entries `first`..`last` (and below 1 when `first` is 1) in sequence order as plain rows:
    seq, prev_hash, entry_hash, and the bytes the hash covers as the database writes them
    (`_hashed_text`; None where it cannot); fetched in batches through a server-side cursor where
    the database has one, so memory stays bounded however long the log is. The rows come straight
    from the driver's cursor (tuples): wrapping each in a result row cost as much as hashing it."""
    dialect = connection.dialect
    bounds = [AccessRecord.seq <= last] + ([AccessRecord.seq >= first] if first > 1 else [])
    columns = [AccessRecord.seq, AccessRecord.prev_hash, AccessRecord.entry_hash, _hashed_text(dialect.name)]
    query = select(*columns).where(*bounds).order_by(AccessRecord.seq)
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # two integers
    driver = connection.connection
    cursor = driver.cursor(name="access_log_check") if dialect.name == "postgresql" else driver.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(_VERIFY_BATCH):
            yield from batch
    finally:
        cursor.close()


_SQLITE_STORED_TIME = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]"
"""How SQLite holds a recorded_at as the log writes it (UTC, microseconds)."""
_CANONICAL_KEYS = sorted(("v", "seq", "recorded_at", *ENTRY_FIELDS))


def _hashed_text(dialect: str) -> ColumnElement[str | None]:
    """`prev_hash` followed by `canonical_entry`, written by the database in one string per row
    (quoting each field as a JSON string in C, not in Python: most of the check's time), or NULL
    on a database that cannot. recorded_at enters as its canonical text only where it is stored
    in the shape the log writes; any other shape, or a value the database quotes differently from
    `canonical_json`, makes the text differ, and that entry is hashed again by `entry_hash` itself
    (`_hashes_to`): the database's text is only a faster way to the same verdict."""
    if dialect == "sqlite":
        stamp = (f"CASE WHEN recorded_at GLOB '{_SQLITE_STORED_TIME}' "
                 "THEN substr(recorded_at, 1, 10) || 'T' || substr(recorded_at, 12) || 'Z' END")
        quoted = {name: f"json_quote(CAST({name} AS TEXT))" for name in ENTRY_FIELDS}  # NULL: null
    elif dialect == "postgresql":
        stamp = """to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        quoted = {name: f"coalesce(to_json({name})::text, 'null')" for name in ENTRY_FIELDS}
    else:
        return null()
    quoted |= {"v": f"'{FORMAT_VERSION}'", "seq": "CAST(seq AS TEXT)",
               "recorded_at": f"coalesce(to_json({stamp})::text, 'null')" if dialect == "postgresql"
               else f"json_quote({stamp})"}
    members = " || ',' || ".join(f"'{canonical_json(key).decode()}:' || {quoted[key]}" for key in _CANONICAL_KEYS)
    return literal_column(f"prev_hash || '{{' || {members} || '}}'", String)


def _hashes_to(stored_hash: str, hashed: str | None, seq: int, prev_hash: str, connection: Connection) -> bool:
    """Whether the entry hashes to `stored_hash`, as `entry_hash` computes it: first over the
    text the database wrote (`_hashed_text`); when that is missing or does not match, by
    `entry_hash` itself from the entry's values as the ORM reads them, so the verdict is always
    `entry_hash`'s."""
    if hashed.__class__ is str and hashlib.sha256(hashed.encode()).hexdigest() == stored_hash:  # type: ignore[union-attr]
        return True
    stored = connection.execute(select(AccessRecord.recorded_at, *(getattr(AccessRecord, name) for name in ENTRY_FIELDS))
                                .where(AccessRecord.seq == seq)).one()
    return entry_hash(prev_hash, seq, stored[0], dict(zip(ENTRY_FIELDS, stored[1:]))) == stored_hash


def entries_for_subject(session: Session, subject_key: str, *, limit: int = 20, offset: int = 0,
                        before_seq: int | None = None) -> AccessPage:
    """Who used this citizen's data: their entries, newest first, those older than `before_seq`
    only when it is given (`total` counts them all). The entries of their consents are not
    accesses: 我的授权 shows those."""
    where = (AccessRecord.subject_key == subject_key) & AccessRecord.outcome.not_in(NOT_ACCESSES)
    total = session.scalar(select(func.count()).select_from(AccessRecord).where(where)) or 0
    if before_seq is not None:
        where = where & (AccessRecord.seq < before_seq)
    query = select(AccessRecord).where(where).order_by(AccessRecord.seq.desc()).limit(limit + 1).offset(offset)
    entries = list(session.scalars(query))
    return AccessPage(total=total, entries=entries[:limit], more=len(entries) > limit)


def _validated(entry: AccessEntry) -> AccessEntry:
    outcome = Outcome(entry.outcome)
    if entry.reason is None and outcome in (Outcome.DENIED, Outcome.FAILED):
        raise InvalidInput("reason", f"a {outcome.value} entry needs a reason code")
    if entry.reason is not None and outcome.value in CONSENT_EVENTS:
        raise InvalidInput("reason", "a consent's entry carries no reason code")
    if outcome is Outcome.OPERATION:
        if entry.reason not in _OPERATION_CODES:
            raise InvalidInput("reason", f"an operation's entry needs its code: {', '.join(Operation)}")
    elif entry.reason is not None and entry.reason not in _REASON_CODES:
        raise InvalidInput("reason", f"must be one of the documented codes: {', '.join(Reason)}")
    if entry.subject_key is not None and not _SUBJECT_KEY.fullmatch(entry.subject_key):
        raise InvalidInput("subject_key", "must be a subject key (64 hex characters), never an ID number")
    for name, limit in _LIMITS.items():
        value = getattr(entry, name)
        if value is not None and len(value) > limit:
            raise InvalidInput(name, f"must have at most {limit} characters")
    typed = _FREE_TEXT if outcome is not Outcome.OPERATION else _TYPED_IN_AN_OPERATION
    masked = {name: mask_free_text(getattr(entry, name)) for name in typed if getattr(entry, name) is not None}
    return replace(entry, **masked, outcome=outcome)


def _lock_chain(session: Session, *, write_ahead: bool = False) -> None:
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # write_ahead: SET LOCAL synchronous_commit, in the same round trip as the lock
        connection.execute(_LOCK_WRITE_AHEAD if write_ahead else _LOCK, {"key": CHAIN_LOCK_KEY})
    elif dialect == "sqlite":  # write_ahead: see `_relax_sqlite_sync`, called before the transaction wrote
        # A write that changes nothing still starts a write transaction: SQLite's one writer lock.
        connection.execute(_SQLITE_LOCK)


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LOCK_WRITE_AHEAD = text("SELECT pg_advisory_xact_lock(:key), set_config('synchronous_commit', 'off', true)")
_SQLITE_LOCK = text("UPDATE access_log SET seq = seq WHERE 0 = 1")


_SQLITE_SYNCHRONOUS = "mianzheng.access_log.synchronous"
"""Where a connection whose commit was relaxed keeps its own `synchronous` level, restored on check-in."""
_SQLITE_WAL_LEVEL = "mianzheng.access_log.wal_synchronous"
"""Per connection: its own `synchronous` level if it is in WAL mode, else None (read once)."""


def _relax_sqlite_sync(session: Session) -> None:
    """This transaction's commit without fsync (`synchronous=NORMAL`), in WAL mode only: there a
    commit so made survives the process, and the next commit with full sync makes it durable.
    Call it before the transaction begins (SQLite refuses it inside one); only for a transaction
    whose entries are `write_ahead` (see `append_access`). The connection's level is restored
    when it goes back to the pool."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    info = connection.connection.info
    if _SQLITE_WAL_LEVEL not in info:
        wal = connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        info[_SQLITE_WAL_LEVEL] = connection.exec_driver_sql("PRAGMA synchronous").scalar() if wal else None
    level = info[_SQLITE_WAL_LEVEL]
    if level is None:
        return
    connection.exec_driver_sql("PRAGMA synchronous=NORMAL")
    info[_SQLITE_SYNCHRONOUS] = level


def _restore_sqlite_sync(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    level = record.info.pop(_SQLITE_SYNCHRONOUS, None)
    if level is not None and dbapi_connection is not None:
        dbapi_connection.execute(f"PRAGMA synchronous={int(level)}")


event.listen(Pool, "checkin", _restore_sqlite_sync)  # every pool's, once: see core.sqlite_writer
