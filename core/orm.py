"""The declarative base shared by every package's tables, and the column types they share.

The one SQLAlchemy metadata lives here, below every package, and every package's models
subclass `Base`. The naming convention keeps constraint names stable across
SQLite and PostgreSQL, so Alembic migrations can refer to them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, DateTime, Dialect, MetaData
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every mapped table in mianzheng."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def plain_connection(database: Session | Connection) -> Connection:
    """Where a read of plain rows runs: a session's connection (inside its transaction), or the
    connection given (a reader that needs no session: no identity map, nothing to tear down)."""
    return database.connection() if isinstance(database, Session) else database


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so without this a value written aware would come back naive there
    and aware on PostgreSQL. Naive values are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value
