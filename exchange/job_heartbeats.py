"""Heartbeats of the scheduled jobs: each pass records who ran it and when, in the database, so
every node's readiness probe sees whether the jobs are alive, wherever they run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, String, bindparam, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.orm import Base, UtcDateTime

JOBS_NAME = "jobs"
"""The one job loop of matter handling, status lists and retention (`api.jobs`)."""
LATE_AFTER_INTERVALS = 3
MIN_LATENESS = timedelta(seconds=60)


class JobHeartbeat(Base):
    """The last pass of one job loop."""

    __tablename__ = "job_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    interval_seconds: Mapped[float] = mapped_column(Float)
    beat_at: Mapped[datetime] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class JobsState:
    """What readiness reports about a job loop."""

    last_beat: datetime | None
    late: bool

    @property
    def status(self) -> str:
        return "absent" if self.last_beat is None else ("late" if self.late else "ok")


def beat(session: Session, name: str, holder: str, interval_seconds: float, now: datetime) -> None:
    """Record a pass of `name` by `holder` now (one upsert)."""
    session.execute(text(
        "INSERT INTO job_heartbeats (name, holder, interval_seconds, beat_at) VALUES (:name, :holder, :interval, :at) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, interval_seconds = excluded.interval_seconds, "
        "beat_at = excluded.beat_at").bindparams(bindparam("at", type_=UtcDateTime())),
        {"name": name, "holder": holder, "interval": interval_seconds, "at": now})


def jobs_state(session: Session, name: str, now: datetime) -> JobsState:
    """Whether `name` has run lately: late once `LATE_AFTER_INTERVALS` intervals (at least
    `MIN_LATENESS`) passed without a beat."""
    row = session.scalars(select(JobHeartbeat).where(JobHeartbeat.name == name)).first()
    if row is None:
        return JobsState(None, late=False)
    allowed = max(timedelta(seconds=row.interval_seconds * LATE_AFTER_INTERVALS), MIN_LATENESS)
    return JobsState(row.beat_at, late=now - row.beat_at > allowed)
