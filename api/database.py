"""Engines and sessions: one engine per app process, one session per request or command.

SQLite gets the pragmas a multi-process server needs (WAL, a busy timeout, foreign keys);
PostgreSQL is used as configured. A pooled PostgreSQL connection is checked with a ping before it
is handed out only when it has been idle (`PING_AFTER_IDLE_SECONDS`): one that just came back from
a request is not pinged again, which saved one server round trip per transaction under load.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled server connection idle longer than this is pinged before use (and replaced if dead)."""
_RETURNED_AT = "mianzheng.returned_at"


def make_engine(database_url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    """Create the engine for a database URL, with SQLite tuned for concurrent workers. Statement
    parameters (subject keys, names, purposes) never appear in database errors or their logs.
    A server database's pooled connection idle for more than `ping_after_idle` seconds is pinged
    before use, and replaced when the server dropped it."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(database_url, hide_parameters=True)
    event.listen(engine.pool, "checkin", _note_return)

    def ping_if_idle(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at <= ping_after_idle:
            return  # new, or back from a request a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure: the pool discards it and connects again
            raise DisconnectionError(f"pooled connection failed its ping: {error}") from error

    event.listen(engine.pool, "checkout", ping_if_idle)
    return engine


def _note_return(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    record.info[_RETURNED_AT] = time.monotonic()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@lru_cache(maxsize=8)
def plain_reads(engine: Engine) -> Engine:
    """The engine for reads of plain rows that need no transaction, each statement seeing what is
    committed (as `verify_form`'s): on PostgreSQL in autocommit, so a read is one round trip, with
    no BEGIN before and no ROLLBACK when the connection goes back to the pool; SQLite as it is (its
    driver begins a transaction only before a write, and switching it costs more than it saves)."""
    return engine if engine.dialect.name == "sqlite" else engine.execution_options(isolation_level="AUTOCOMMIT")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def standalone_session(database_url: str) -> Iterator[Session]:
    """A committed-on-success session with an engine of its own, for work outside a request
    (commands, set-up); the engine is disposed afterwards so no connection lingers."""
    engine = make_engine(database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
