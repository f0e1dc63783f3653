"""Pooled server connections: one the server dropped while it sat idle in the pool is replaced
before a request gets it; one back from use a moment ago (within `ping_after_idle`) is handed out
without a ping."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.database import make_engine


def test_a_connection_dropped_while_idle_is_replaced_before_use(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop a connection")
    engine = make_engine(database_url, ping_after_idle=0)
    admin = make_engine(database_url)
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as connection:  # the server ends the pooled connection, as a restart would
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}) is True
        with engine.connect() as connection:
            second = connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(database_url: str) -> None:
    """Within `ping_after_idle` the pool trusts the connection (no round trip): dropped in that
    moment, the statement fails as a disconnect, and the pool starts afresh."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite connections are not pinged")
    engine = make_engine(database_url, ping_after_idle=3600)
    admin = make_engine(database_url)
    try:
        with engine.connect() as connection:
            first = connection.scalar(text("SELECT pg_backend_pid()"))
        with admin.connect() as connection:
            connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
            connection.scalar(text("SELECT 1"))
        assert failed.value.connection_invalidated
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()
        admin.dispose()
