"""Set-up steps done once per version of what they depend on, so a later `mianzheng init` (every
`scripts/serve`) skips them at the cost of one indexed read.

A step is a row of `setup_steps`: its name and the version it was last done at (a digest of its
inputs, e.g. the demo data set and the live catalog's content hash). `run_once` claims the row,
does the work and records the version in one database transaction:

- a crash half-way rolls the work and the record back together, so the next start does it again;
- the claim is a write of the row (a row lock on PostgreSQL, the database's write lock on
  SQLite), so a second start at the same time waits for the first, then finds the step done;
- the work gets sessions joined to that transaction: their commits only flush, and the one
  commit at the end makes the work and the record durable together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

from sqlalchemy import Engine, String, bindparam, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from core.orm import Base, UtcDateTime

T = TypeVar("T")


class SetupStep(Base):
    """One set-up step and the version of its inputs it was last done at."""

    __tablename__ = "setup_steps"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(128))
    """None while claimed for the first time (the row is never committed so)."""
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


_CLAIM = text(
    "INSERT INTO setup_steps (name, version, done_at) VALUES (:name, NULL, NULL) "
    "ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING version")
"""Writes the step's row first thing in the transaction: whoever writes it second waits for the
first to commit, then reads the version the first recorded."""

_RECORD = text("UPDATE setup_steps SET version = :version, done_at = :at WHERE name = :name").bindparams(
    bindparam("at", type_=UtcDateTime()))


def done_version(engine: Engine, name: str) -> str | None:
    """The version step `name` was last done at, or None."""
    with Session(engine) as session:
        return session.scalar(select(SetupStep.version).where(SetupStep.name == name))


def run_once(engine: Engine, name: str, version: str, work: Callable[[sessionmaker[Session]], T]) -> T | None:
    """`work(sessions)` unless step `name` is done at `version` already; None when skipped. The
    claim, everything `work` writes through `sessions` and the record are one transaction; `work`
    must write through `sessions` only."""
    if done_version(engine, name) == version:
        return None
    with engine.connect() as connection, connection.begin():
        if connection.execute(_CLAIM, {"name": name}).scalar_one() == version:
            return None  # another start did it while this one waited
        joined = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="rollback_only")
        result = work(joined)
        connection.execute(_RECORD, {"name": name, "version": version, "at": datetime.now(timezone.utc)})
    return result
