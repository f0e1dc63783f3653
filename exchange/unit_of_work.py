"""The unit of work: how every entry point (an HTTP request, a command, a pass of the jobs) owns its
transactions, and how use cases commit without calling `commit`.

An entry point builds one `UnitOfWork` from the installation's session factory and hands it to the
use case. The use case never commits itself; it does its writes inside named steps:

    with uow.step("allocate") as session:   # one transaction: committed when the block ends,
        ...                                 # rolled back (and the error raised) when it fails

A multi-step flow (pull, allocate, render, store) commits each step as it completes, so what a
step did survives a failure of a later one (a source query stays logged when storing the answer
fails) and slow work (signing, rendering a PDF) runs between steps, holding no lock. `read()`
gives a session for looking only: it refuses to write (`WriteInRead`). `locked_row` reads a row
for a read-modify-write after taking its lock. `retried` runs a step that claims something by a
unique constraint or a lock again, in a new transaction, when it lost the race.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event, inspect, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.sqlite_writer import begin_write

Row = TypeVar("Row")
Result = TypeVar("Result")
RETRIED_ATTEMPTS = 5
_READ_ONLY = "mianzheng.read_only"
"""Marks a session of `UnitOfWork.read` in its `info`."""


class WriteInRead(RuntimeError):
    """A session of `UnitOfWork.read` was asked to write: reads commit nothing, so it is a mistake."""


class UnitOfWork:
    """The transactions of one entry point, as named steps (see the module)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def step(self, name: str) -> Iterator[Session]:
        """A step named `name`: one transaction, committed on success, rolled back on error. On
        SQLite it is the database's writer from its start (`core.sqlite_writer.begin_write`)."""
        with self._sessions.begin() as session:
            session.info["step"] = name
            begin_write(session)
            yield session

    def retried(self, name: str, work: Callable[[Session], Result], *, attempts: int = RETRIED_ATTEMPTS) -> Result:
        """`work` in a step named `name`; when it loses a race — a unique claim taken meanwhile
        (`IntegrityError`), a lock not had in time (`OperationalError`) — the step is rolled back
        and `work` runs again in a new one, at most `attempts` times.

        On SQLite the step takes the write lock first (`begin_write`: BEGIN IMMEDIATE, queued behind
        the writer before it): a transaction that read and then writes after another writer
        committed would be refused at once, and its savepoints would be transactions of their own."""
        for attempt in range(attempts):
            try:
                with self._sessions() as session:
                    session.info["step"] = name
                    begin_write(session)
                    result = work(session)
                    session.commit()
                    return result
            except (IntegrityError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads: nothing it does is committed, and the objects it loaded stay
        readable after it. On a database server it reads in autocommit: each statement sees what
        is committed when it runs, as it would in the READ COMMITTED transaction it replaces,
        without the BEGIN before and the ROLLBACK after (two round trips; and a rollback makes
        psycopg drop its prepared statements). SQLite reads as it is: its driver begins a
        transaction only before a write. An object added or changed in it is never written: a
        flush raises `WriteInRead`. (The connection goes back to the pool in its usual isolation.)"""
        with self._sessions() as session:
            session.info[_READ_ONLY] = True
            if session.get_bind().dialect.name != "sqlite":
                session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session


@event.listens_for(Session, "before_flush")
def _refuse_writes_in_reads(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_READ_ONLY):
        raise WriteInRead(f"a read session was asked to write {len(session.new) + len(session.dirty)} "
                          f"object(s) and delete {len(session.deleted)}")


def locked_row(session: Session, model: type[Row], row_id: Any) -> Row:
    """The row, read after taking its write lock in the caller's step (a no-op UPDATE of its key
    first: a row lock on PostgreSQL, the write lock on SQLite), so a read-modify-write of it
    cannot interleave with another. `LookupError` if there is no such row."""
    key = inspect(model).primary_key[0]
    if session.execute(update(model).where(key == row_id).values({key.name: row_id})).rowcount != 1:
        raise LookupError(f"no {model.__name__} {row_id!r}")
    row = session.get(model, row_id, populate_existing=True)
    assert row is not None
    return row
