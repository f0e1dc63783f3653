"""The connector contract in Python: what the exchange asks a source department and what
it gets back, whatever the adapter (HTTP or in-process).

A source answers `query(proof_code, id_number, name)` for one of its own proofs with a
`SourceAnswer`: the record (every data item of the proof, as JSON values, see values.py)
and `as_of`, when the department's data was current. Otherwise it raises one of the
`SourceError`s below. The HTTP form of the same contract is in wire.py and openapi.py and
is described in docs/connectors.md.

For a proof about an organisation (`Subject.ORGANISATION`), `id_number` carries the
organisation's unified social credit code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from catalog.citizen_id import parse_id_number
from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Catalog, ItemType, Mode, Proof, Subject
from exchange.sources.values import parse_offset_datetime, record_problems

PULLED_MODES = frozenset(mode for mode in Mode if mode.pulled)
"""The modes in which the exchange pulls a proof's data from its source department."""


@dataclass(frozen=True)
class SourceAnswer:
    """A source's record of one subject for one proof.

    `record` maps every data item name of the proof to its JSON value; `as_of` is when the
    department's data was current (timezone-aware); `provenance` says where the record was read
    when not from the department's own records (an e-license in the library: its identifier).
    """

    proof: str
    as_of: datetime
    record: Mapping[str, Any]
    provenance: Mapping[str, Any] | None = None


class SourceError(Exception):
    """A query to a source department did not give a record. Messages never hold an ID number."""

    def __init__(self, department: str, message: str) -> None:
        super().__init__(message)
        self.department = department


class SubjectNotFound(SourceError):
    """The department holds no record of this subject for this proof (or not under the name
    given). A true answer about the subject, not a failure."""

    def __init__(self, department: str, proof: str) -> None:
        super().__init__(department, f"{department} holds no record of this subject for proof {proof}")
        self.proof = proof


class SourceUnavailable(SourceError):
    """The department's system could not answer now: timeout, connection refused, a 5xx or
    429 answer, its database unreachable, or its circuit breaker open. Worth retrying after
    `retry_after_seconds`."""

    def __init__(self, department: str, reason: str, retry_after_seconds: int) -> None:
        super().__init__(department, f"source {department} is unavailable: {reason}")
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds


class SourceProtocolError(SourceError):
    """The department's system answered something the contract does not allow (not JSON,
    another proof, missing or ill-typed data items, a naive `as_of`). Retrying does not help."""

    def __init__(self, department: str, reason: str) -> None:
        super().__init__(department, f"source {department} broke the connector contract: {reason}")
        self.reason = reason


class SourceRejected(SourceError):
    """The department's system refused the exchange's request: 401/403 (a wrong or missing
    token: fix the configuration), 400 (it considers the query invalid) or another 4xx.
    Retrying does not help."""

    def __init__(self, department: str, status: int, detail: str) -> None:
        super().__init__(department, f"source {department} refused the query with {status}: {detail}")
        self.status = status
        self.detail = detail


class Source(Protocol):
    """One source department's system, as the exchange sees it."""

    department: str
    waits_on_network: bool
    """Whether a query waits on another machine (a connector over HTTP, a database server). The
    directory asks such queries of one batch at the same time; the others read a local file in
    microseconds and are asked in line, where a thread would cost more than it saves."""

    def query(self, proof_code: str, id_number: str, name: str | None) -> SourceAnswer:
        """The record of the subject for `proof_code` (one of this department's proofs).

        `name`, when given, must match the name the department holds, otherwise the subject
        is not found. Raises SubjectNotFound, SourceUnavailable, SourceProtocolError or
        SourceRejected; ValueError when the proof is not one of this department's.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def pulled_proofs(catalog: Catalog) -> tuple[Proof, ...]:
    """The proofs whose data the exchange pulls from a source for some use: the default mode
    or some matter's override is data sharing, an e-license or online issue, or a commitment
    is verified against it (`verification.proof`). Their source departments must answer for them."""
    overridden = {entry.proof for matter in catalog.matters.values() for entry in matter.proofs if entry.mode in PULLED_MODES}
    verified = {proof.verification.proof for proof in catalog.proofs.values() if proof.verification is not None}
    wanted = overridden | verified
    return tuple(proof for proof in catalog.proofs.values() if proof.mode in PULLED_MODES or proof.code in wanted)


def department_proof(catalog: Catalog, department: str, proof_code: str) -> Proof:
    """The proof `proof_code` held by `department`; ValueError if unknown or another's."""
    proof = catalog.proofs.get(proof_code)
    if proof is None:
        raise ValueError(f"unknown proof {proof_code!r}")
    if proof.department != department:
        raise ValueError(f"proof {proof_code} is held by {proof.department}, not {department}")
    return proof


def checked_answer(department: str, proof: Proof, as_of: datetime, record: Any, asked: str) -> SourceAnswer:
    """The answer if `record` is a valid record of `proof` about the subject `asked` (the ID
    number or USCC queried), and `as_of` is timezone-aware, not in the future and not before
    `EARLIEST_AS_OF` (a year-one date would overflow once converted to UTC or Beijing time); otherwise
    SourceProtocolError naming what is wrong (never the numbers)."""
    if as_of.tzinfo is None:
        raise SourceProtocolError(department, "as_of has no UTC offset")
    if as_of > datetime.now(timezone.utc) + AS_OF_CLOCK_SKEW:
        raise SourceProtocolError(department, "as_of is in the future")
    if as_of < EARLIEST_AS_OF:
        raise SourceProtocolError(department, f"as_of is before {EARLIEST_AS_OF.isoformat()}")
    problems = record_problems(proof, record) or _times_to_come(proof, record)
    if problems:
        raise SourceProtocolError(department, f"record of {proof.code}: " + "; ".join(problems))
    key = SUBJECT_ITEM[proof.subject]
    if any(item.name == key for item in proof.data_items) and record.get(key) is None:
        raise SourceProtocolError(department, f"the record of {proof.code} names no subject ({key} is null)")
    if not about_subject(proof, record, asked):
        raise SourceProtocolError(department, f"the record of {proof.code} is about another subject than the one asked")
    return SourceAnswer(proof=proof.code, as_of=as_of, record=dict(record))


def _times_to_come(proof: Proof, record: Mapping[str, Any]) -> list[str]:
    """The record's times (`datetime` items: a search, a signature, a birth) later than now, beyond
    the clock skew allowed: no department records an event still to come, and the exchange would
    sign it."""
    latest = datetime.now(timezone.utc) + AS_OF_CLOCK_SKEW
    return [f"{item.name}: in the future" for item in proof.data_items
            if item.type is ItemType.DATETIME and isinstance(record.get(item.name), str)
            and (parsed := parse_offset_datetime(record[item.name])) is not None and parsed > latest]


def about_subject(proof: Proof, record: Mapping[str, Any], asked: str) -> bool:
    """Whether the record's own identifier of its subject (the item `id_number` of a person's
    proof, `uscc` of an organisation's), where the proof has one, is the one asked: a source that
    mixes up its answers (a cache, a pooled connection) must not hand one person's facts out as
    another's (a record that names no subject where the proof has that item is not about the one
    asked: `parse_answer` refuses it first, saying so). Proofs without that item cannot be
    cross-checked here."""
    key = SUBJECT_ITEM[proof.subject]
    if all(item.name != key for item in proof.data_items):
        return True
    if record.get(key) is None:
        return False
    normalised = (lambda value: parse_uscc(value).code) if proof.subject is Subject.ORGANISATION \
        else (lambda value: parse_id_number(value).number)
    try:
        return bool(normalised(record[key]) == normalised(asked))
    except InvalidIdentifier:
        return False


SUBJECT_ITEM = {Subject.PERSON: "id_number", Subject.ORGANISATION: "uscc"}
"""The data item by which a proof's record names its own subject."""
AS_OF_CLOCK_SKEW = timedelta(minutes=10)
"""How far ahead of the exchange's clock a source's `as_of` may be (its clock may run ahead)."""
EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""No department's data was current before this: an earlier `as_of` is a broken source, not an old record."""
