"""Reads of the unit of work: on a database server in autocommit (no BEGIN, no ROLLBACK), never
writing, and handing the connection back to steps that are transactions again."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.database import make_engine, make_session_factory
from exchange.job_heartbeats import JobHeartbeat
from exchange.unit_of_work import UnitOfWork, WriteInRead


def _server_process(session: Session) -> int | None:
    """The database server's process behind the session's connection (None on SQLite)."""
    if session.get_bind().dialect.name == "sqlite":
        return None
    return session.scalar(text("SELECT pg_backend_pid()"))


def test_a_read_writes_nothing_and_the_next_step_is_a_transaction_again(database_url: str) -> None:
    engine = make_engine(database_url)
    uow = UnitOfWork(make_session_factory(engine))
    try:
        with uow.read() as session:
            reader = _server_process(session)
            if reader is not None:  # no BEGIN was sent: the driver runs each statement on its own
                assert session.connection().connection.dbapi_connection.autocommit is True  # type: ignore[union-attr]
            session.add(JobHeartbeat(name="probe", holder="read", interval_seconds=1.0,
                                     beat_at=datetime.now(timezone.utc)))
            with pytest.raises(WriteInRead):
                session.scalars(select(JobHeartbeat))  # the query would flush the new row first
        with pytest.raises(RuntimeError, match="the step fails"), uow.step("fails") as session:
            assert _server_process(session) == reader  # the same pooled connection, in a transaction again
            session.add(JobHeartbeat(name="probe", holder="step", interval_seconds=1.0,
                                     beat_at=datetime.now(timezone.utc)))
            session.flush()
            raise RuntimeError("the step fails")
        with uow.read() as session:
            assert session.get(JobHeartbeat, "probe") is None
    finally:
        engine.dispose()
