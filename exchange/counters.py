"""Named counters: the one way the exchange allocates numbers (certificate serials, status-list
entries) without a race.

`next_value` is a single `UPDATE … SET value = value + 1 … RETURNING value`: the database
serialises it on the counter's row, so two transactions never get the same number, and it costs
one statement whatever has been allocated before (no `max()+1`, no scan). A counter row that does
not exist yet is created by an `INSERT … ON CONFLICT DO NOTHING` first, which two first users can
run at once. The row stays locked until the caller's transaction ends, so allocate in a short step
of its own (see `UnitOfWork.step`) and commit before slow work: a step that rolls back leaves a gap,
never a duplicate.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.orm import Base


class Counter(Base):
    """One named counter and the last value it handed out."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(96), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


def next_value(session: Session, name: str, *, start_after: int = 0) -> int:
    """The next value of counter `name` (the first is `start_after + 1`), in the caller's transaction."""
    session.execute(text("INSERT INTO counters (name, value) VALUES (:name, :start) ON CONFLICT (name) DO NOTHING"),
                    {"name": name, "start": start_after})
    return int(session.execute(text("UPDATE counters SET value = value + 1 WHERE name = :name RETURNING value"),
                               {"name": name}).scalar_one())
