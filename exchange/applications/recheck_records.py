"""The tables of the annual re-check (年度复核): the tenancies (current beneficiary households
of a matter), the re-check runs over them, and one result per household and run.

As in records.py, personal data is kept sealed: the household's parties (ID numbers, names,
consents) and each result's decision document with its provenance. In clear: codes, states,
outcomes, times, and the head of household's subject key for lookups.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, composite, mapped_column

from core.orm import Base, UtcDateTime
from exchange.keyring import Sealed, sealed_or_none

WAITING = "waiting"
"""A result's outcome while a source department cannot answer for the household: not decided."""


class TenancyStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class RunStatus(StrEnum):
    RUNNING = "running"
    """Some active tenancy has no decided result yet (interrupted, or waiting for a source)."""
    FINISHED = "finished"


class Tenancy(Base):
    """A household currently benefiting from a matter (e.g. renting public housing)."""

    __tablename__ = "tenancies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matter: Mapped[str] = mapped_column(String(64), index=True)
    handling_department: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(128))
    """The department system the re-check's pulls act as."""
    case_number: Mapped[str] = mapped_column(String(64))
    """The department's file number of the tenancy; the case the re-check's pulls are for."""
    head_key: Mapped[str] = mapped_column(String(64), index=True)
    """Subject key of the head of household."""
    parties_key_id: Mapped[int] = mapped_column(Integer)
    parties_blob: Mapped[bytes] = mapped_column("parties_sealed", LargeBinary)
    parties_sealed: Mapped[Sealed] = composite(sealed_or_none, "parties_key_id", "parties_blob")
    """The household (`Parties`: the head as applicant, the members), each with their counter consent."""
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)
    last_outcome: Mapped[str] = mapped_column(String(16))
    """The outcome the tenancy was granted on, then that of its latest decided re-check."""


class RecheckRun(Base):
    """One re-check of every active tenancy of a matter; resumable until every one is decided."""

    __tablename__ = "recheck_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    matter: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    """The active tenancies when the run was last started or resumed."""
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    """Results by outcome (eligible, needs_review, not_eligible, waiting) and how many changed."""
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    """While a process works through the run; another process leaves it alone until then."""


class RecheckResult(Base):
    """The re-check of one household in one run."""

    __tablename__ = "recheck_results"
    __table_args__ = (UniqueConstraint("run_id", "tenancy_id", name="uq_recheck_results_run_tenancy"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("recheck_runs.id"))  # indexed by the unique one
    tenancy_id: Mapped[str] = mapped_column(ForeignKey("tenancies.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    """A decision (eligible, needs_review, not_eligible), or `WAITING`."""
    previous_outcome: Mapped[str] = mapped_column(String(16))
    changed: Mapped[bool] = mapped_column(Boolean)
    decision_key_id: Mapped[int | None] = mapped_column(Integer)
    decision_blob: Mapped[bytes | None] = mapped_column("decision_sealed", LargeBinary)
    decision_sealed: Mapped[Sealed | None] = composite(sealed_or_none, "decision_key_id", "decision_blob")
    """The decision document with its provenance; None while waiting."""
    detail: Mapped[str | None] = mapped_column(Text)
    """While waiting: which source departments could not answer."""
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())
