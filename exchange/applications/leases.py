"""Leases: which process works on a row (an application, a re-check run) right now.

`claim_lease` is one compare-and-set UPDATE, atomic on SQLite and PostgreSQL alike: it takes
the row only if nobody holds it or the holder's lease ran out (a process that died). The
holder releases it when done; until then, and at most `LEASE` after its last renewal, every
other process leaves the row alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update

from exchange.applications.context import LEASE, HandlingContext


def claim_lease(ctx: HandlingContext, model: Any, row_id: str, **values: Any) -> bool:
    """Take the lease of `model` row `row_id` (setting `values` with it); False if another holds it."""
    now: datetime = ctx.now()
    with ctx.pull.sessions() as session:
        claimed = session.execute(
            update(model).where(model.id == row_id)
            .where(or_(model.lease_until.is_(None), model.lease_until < now))
            .values(lease_until=now + LEASE, **values)
        ).rowcount
        session.commit()
    return claimed == 1
