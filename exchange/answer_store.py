"""Idempotency of exchange requests: each (client, request id) is answered once.

A request is first reserved (`pending`), then completed with its answer, or released when
it is refused or fails (so the client may try again with the same id). A completed request
id answers every repetition with the stored answer and never pulls again; the same id with
different content is a conflict. A reservation older than `STALE_AFTER` is taken over, so a
process that died mid-request blocks nothing for long.

A reservation belongs to the claim that made it: its `reserved_at`, the claimant's `now`, is
the fencing token `complete` and `release` must show. A process that was only slow, and whose
reservation was taken over meanwhile, can neither store its answer over the new holder's nor
drop the new holder's reservation (`ReservationLost`).

Stored answers hold personal data (the minimised fields), so they are kept encrypted
(`exchange.keyring`, under the exchange answers' key, bound to the client and request
id) and deleted after `RETENTION` by the scheduled jobs. A replay is refused
once the consent the answer was given on is withdrawn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import Integer, LargeBinary, Row, String, UniqueConstraint, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, composite, mapped_column

from core.orm import Base, UtcDateTime
from exchange.errors import ExchangeError
from exchange.keyring import RecordCipher, Sealed, sealed_or_none
from exchange.unit_of_work import UnitOfWork

STALE_AFTER = timedelta(minutes=2)
RETENTION = timedelta(days=7)


class RequestStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


class AnsweredRequest(Base):
    """One (client, request id): its request hash, state and encrypted answer."""

    __tablename__ = "exchange_requests"
    __table_args__ = (UniqueConstraint("client_id", "request_id", name="uq_exchange_requests_client_request"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    request_id: Mapped[str] = mapped_column(String(128))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    answer_key_id: Mapped[int | None] = mapped_column(Integer)
    answer_blob: Mapped[bytes | None] = mapped_column("answer_sealed", LargeBinary)
    answer_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "answer_key_id", "answer_blob")
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    consent_id: Mapped[str | None] = mapped_column(String(36))
    """The consent the answer was given on: a replay is refused once it is withdrawn."""


_REQUESTS = AnsweredRequest.__table__
_ROW = select(_REQUESTS.c.id, _REQUESTS.c.client_id, _REQUESTS.c.request_id, _REQUESTS.c.request_sha256,
              _REQUESTS.c.status, _REQUESTS.c.answer_key_id, _REQUESTS.c.answer_sealed.label("answer_blob"),
              _REQUESTS.c.reserved_at, _REQUESTS.c.consent_id).where(_REQUESTS.c.client_id == bindparam("client_id"))
_FIND = _ROW.where(_REQUESTS.c.request_id == bindparam("request_id"))
_FIND_SEVERAL = _ROW.where(_REQUESTS.c.request_id.in_(bindparam("request_ids", expanding=True)))
_RESERVE = _REQUESTS.insert()
"""The statements of every exchange request, built once and run on the session's connection."""


@dataclass(frozen=True)
class Replay:
    """The stored answer of a completed request, and the consent it was given on."""

    body: dict[str, Any]
    consent_id: str | None


class RequestIdConflict(ExchangeError):
    """The request id is in use for another request, or its first use is still running."""

    retry_after: int | None = None
    """Seconds after which repeating the request may succeed; None when it never will: the id
    holds a request with other content, and only a new id can be answered."""


class RequestInProgress(RequestIdConflict):
    """The request id's first use is still being answered: repeating it shortly gets its answer."""

    retry_after = 5


class ReservationLost(RequestIdConflict):
    """The reservation was taken over by a later claim (this one was older than `STALE_AFTER`):
    the answer the new holder stores, or has stored, is the request's answer."""

    retry_after = 5

    def __init__(self, request_id: str) -> None:
        super().__init__(f"request {request_id!r} took too long and was taken over by a later attempt; "
                         "repeat it for the answer stored")


def answer_bound_to(client_id: str, request_id: str) -> str:
    """What a stored answer is bound to: its client and request id."""
    return f"{client_id}\n{request_id}"


def stored_answer(session: Session, box: RecordCipher, client_id: str, request_id: str, request_sha256: str,
                  now: datetime) -> Replay | None:
    """The stored answer of a completed identical request; None when the id is free to use.

    Raises `RequestIdConflict` for the same id with other content, or one still in progress.
    """
    return replay_of(_find(session, client_id, request_id), box, request_sha256, now)


StoredRequest = Row[Any]
"""A plain row of `exchange_requests` as `stored_answer_row` reads it (no ORM object: it is read on
every exchange request): id, client_id, request_id, request_sha256, status, answer_key_id,
answer_blob, reserved_at, consent_id."""


def stored_answer_row(session: Session, client_id: str, request_id: str) -> StoredRequest | None:
    """The row of (client, request id), if any: for `replay_of` and `reserve_found` in one transaction."""
    return _find(session, client_id, request_id)


def stored_answer_rows(session: Session, client_id: str, request_ids: list[str]) -> dict[str, StoredRequest]:
    """`stored_answer_row` of several request ids of one client, in one query, by request id."""
    if len(request_ids) == 1:
        row = _find(session, client_id, request_ids[0])
        return {row.request_id: row} if row is not None else {}
    rows = session.connection().execute(_FIND_SEVERAL, {"client_id": client_id, "request_ids": request_ids})
    return {row.request_id: row for row in rows}


def replay_of(row: StoredRequest | None, box: RecordCipher, request_sha256: str, now: datetime) -> Replay | None:
    """`stored_answer` of a row read already."""
    if row is None:
        return None
    if row.request_sha256 != request_sha256:
        raise RequestIdConflict(f"request id {row.request_id!r} was used for a different request")
    sealed = sealed_or_none(row.answer_key_id, row.answer_blob)
    if row.status == RequestStatus.COMPLETED and sealed is not None:
        return Replay(box.open(sealed, answer_bound_to(row.client_id, row.request_id)), row.consent_id)
    if now - row.reserved_at < STALE_AFTER:
        taken_over = (row.reserved_at + STALE_AFTER).astimezone(timezone.utc)
        raise RequestInProgress(f"request {row.request_id!r} is still being answered; retry shortly (if the attempt "
                                f"answering it stopped, a repetition from {taken_over:%Y-%m-%dT%H:%M:%SZ} "
                                "takes it over)")
    return None


def reserve(session: Session, client_id: str, request_id: str, request_sha256: str, now: datetime,
            consent_id: str | None = None) -> None:
    """Claim the request id, or take over its reservation when that is stale (a process died
    holding it): a compare-and-set, so of two claimants exactly one wins. The loser gets
    `RequestIdConflict`, here or (for a new id) as `IntegrityError` at flush (see `claim`)."""
    reserve_found(session, _find(session, client_id, request_id), client_id, request_id, request_sha256, now,
                  consent_id)


def reserve_found(session: Session, row: StoredRequest | None, client_id: str, request_id: str,
                  request_sha256: str, now: datetime, consent_id: str | None = None) -> None:
    """`reserve`, given the row `stored_answer_row` read in this transaction (None: the id is new),
    so a request that checked for a stored answer does not read its row twice."""
    if row is None:
        reserve_new(session, [new_reservation(client_id, request_id, request_sha256, now, consent_id)])
        return
    taken_over = session.execute(
        update(AnsweredRequest).where(AnsweredRequest.id == row.id, AnsweredRequest.status == RequestStatus.PENDING,
                                      AnsweredRequest.request_sha256 == request_sha256,
                                      AnsweredRequest.reserved_at < now - STALE_AFTER)
        .values(reserved_at=now, consent_id=consent_id)).rowcount
    if taken_over != 1:
        raise RequestInProgress(f"request {request_id!r} is being answered already; retry shortly")


def new_reservation(client_id: str, request_id: str, request_sha256: str, now: datetime,
                    consent_id: str | None = None) -> dict[str, Any]:
    """The values of the row that reserves a new request id, for `reserve_new`."""
    return {"client_id": client_id, "request_id": request_id, "request_sha256": request_sha256,
            "status": RequestStatus.PENDING.value, "reserved_at": now, "consent_id": consent_id}


def reserve_new(session: Session, reservations: list[dict[str, Any]]) -> None:
    """Insert the rows (`new_reservation`) that reserve new request ids, in one statement; a
    second claimant's INSERT fails on the unique (client, request id) with `IntegrityError`."""
    if reservations:
        session.connection().execute(_RESERVE, reservations)


def claim(uow: UnitOfWork, client_id: str, request_id: str, request_sha256: str, now: datetime,
          consent_id: str | None = None) -> None:
    """`reserve` in a step of its own, reporting a lost race as `RequestIdConflict`."""
    try:
        with uow.step("claim-request-id") as session:
            reserve(session, client_id, request_id, request_sha256, now, consent_id)
    except IntegrityError:
        raise RequestInProgress(f"request {request_id!r} is being answered already; retry shortly") from None


@contextmanager
def claimed(uow: UnitOfWork, client_id: str, request_id: str, request_sha256: str, now: datetime) -> Iterator[None]:
    """`claim` the request id at `now` for the work inside, which completes it (`complete`, with
    `claimed_at=now`) in the step that stores its result; the reservation is released when the
    work fails, so the same id may be tried again."""
    claim(uow, client_id, request_id, request_sha256, now)
    try:
        yield
    except BaseException:
        with uow.step("release-request-id") as session:
            release(session, client_id, request_id, claimed_at=now)
        raise


def answered_once(uow: UnitOfWork, box: RecordCipher, owner: str, request_id: str, request_sha256: str,
                  now: datetime, step: str, work: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
    """What `work(session)` answers to the request `request_id` of `owner`, done once: `work` runs
    in the step named `step`, which completes the request id in the same commit; a repetition gets
    the stored answer. `RequestIdConflict` for the id with other content, `RequestInProgress`
    while its first use runs."""
    with uow.read() as session:
        replay = stored_answer(session, box, owner, request_id, request_sha256, now)
    if replay is not None:
        return replay.body
    with claimed(uow, owner, request_id, request_sha256, now), uow.step(step) as session:
        body = work(session)
        complete(session, box, owner, request_id, body, now, claimed_at=now)
    return body


def complete(session: Session, box: RecordCipher, client_id: str, request_id: str, body: dict[str, Any],
             now: datetime, claimed_at: datetime) -> None:
    """Store the answer of the request reserved at `claimed_at` (one UPDATE: the row is not read
    again); `ReservationLost` when a later claim took the reservation over."""
    if complete_all(session, box, client_id, {request_id: body}, now, claimed_at):
        raise ReservationLost(request_id)


def complete_all(session: Session, box: RecordCipher, client_id: str, bodies: dict[str, dict[str, Any]],
                 now: datetime, claimed_at: datetime) -> set[str]:
    """`complete` for the answers of several requests of one client reserved at `claimed_at`, by
    request id (one UPDATE statement, executed for each). Returns the request ids whose
    reservation a later claim took over: their answers are not stored."""
    parameters = []
    for request_id, body in bodies.items():
        sealed = box.seal(body, answer_bound_to(client_id, request_id))
        parameters.append({"of_client": client_id, "of_request": request_id, "claimed_at": claimed_at,
                           "status": RequestStatus.COMPLETED.value, "answer_key_id": sealed.key_id,
                           "answer_sealed": sealed.blob, "completed_at": now})
    if not parameters or session.connection().execute(_COMPLETE, parameters).rowcount == len(parameters):
        return set()
    held = session.connection().execute(  # rarely: a reservation outlived `STALE_AFTER` and was taken over
        select(_REQUESTS.c.request_id).where(_REQUESTS.c.client_id == client_id,
                                             _REQUESTS.c.request_id.in_(list(bodies)),
                                             _REQUESTS.c.reserved_at == claimed_at)).scalars()
    return set(bodies) - set(held)


_COMPLETE = _REQUESTS.update().where(_REQUESTS.c.client_id == bindparam("of_client"),
                                     _REQUESTS.c.request_id == bindparam("of_request"),
                                     _REQUESTS.c.status == RequestStatus.PENDING.value,
                                     _REQUESTS.c.reserved_at == bindparam("claimed_at", type_=UtcDateTime()))
"""`complete`'s UPDATE, built once: the values come as parameters named after their columns."""


def release(session: Session, client_id: str, request_id: str, claimed_at: datetime) -> None:
    """Drop the reservation made at `claimed_at` so the same id may be tried again (nothing, if a
    later claim took it over)."""
    session.execute(delete(AnsweredRequest).where(
        AnsweredRequest.client_id == client_id, AnsweredRequest.request_id == request_id,
        AnsweredRequest.status == RequestStatus.PENDING, AnsweredRequest.reserved_at == claimed_at))


def purge_expired(session: Session, now: datetime) -> int:
    """Delete stored answers older than `RETENTION` (a pass of the scheduled jobs); returns how many."""
    result = session.execute(delete(AnsweredRequest).where(AnsweredRequest.completed_at < now - RETENTION))
    return result.rowcount or 0


def _find(session: Session, client_id: str, request_id: str) -> StoredRequest | None:
    return session.connection().execute(_FIND, {"client_id": client_id, "request_id": request_id}).one_or_none()
