"""Leases: which process works on a row (an application, a re-check run) right now.

A lease names its holder (`new_holder()`: host, process and a random part, so two threads of one
process are two holders too). `claim_lease` is one compare-and-set UPDATE, atomic on SQLite and
PostgreSQL alike: it takes the row only if nobody holds it or the holder's lease ran out (a process
that died). The holder renews it (`renew_lease`, which also tells it whether it still holds the
row) once `RENEW_AFTER` has passed since it last claimed or renewed it (until then the lease cannot
have run out, so nobody else can hold the row), and releases it when done (`release_lease`); both
touch the row only while the lease is still theirs, so a holder whose lease ran out and was taken
over never clears the new holder's. A row may also be written with its lease already taken (a
`Lease` from `new_lease`: an application filed by the process that resolves it next).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, true, update
from sqlalchemy.orm import Session

from exchange.applications.context import LEASE, HandlingContext

RENEW_AFTER = LEASE / 4
"""How long after claiming or renewing a lease its holder renews it (well before it runs out)."""


def new_holder() -> str:
    """A name for one holder of leases: this host and process, and a random part."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Lease:
    """A lease its holder took at `taken_at` (it runs until `LEASE` after that)."""

    holder: str
    taken_at: datetime

    def columns(self) -> dict[str, Any]:
        """The lease columns of a row written with this lease taken."""
        return {"lease_until": self.taken_at + LEASE, "lease_holder": self.holder}


def new_lease(ctx: HandlingContext) -> Lease:
    """A lease for a new holder, taken now (for a row its holder writes itself)."""
    return Lease(new_holder(), ctx.now())


def claim_lease(ctx: HandlingContext, model: Any, row_id: str, holder: str, *,
                only_if: ColumnElement[bool] | None = None, **values: Any) -> bool:
    """Take the lease of `model` row `row_id` for `holder` (setting `values` with it); False if
    another holds it, or if the row no longer meets `only_if` (checked in the same statement)."""
    now: datetime = ctx.now()
    with ctx.uow.step("claim-lease") as session:
        claimed = session.execute(
            update(model).where(model.id == row_id, true() if only_if is None else only_if)
            .where(or_(model.lease_until.is_(None), model.lease_until < now, model.lease_holder == holder))
            .values(lease_until=now + LEASE, lease_holder=holder, **values)
        ).rowcount
    return claimed == 1


def renew_lease(ctx: HandlingContext, model: Any, row_id: str, holder: str) -> bool:
    """Extend `holder`'s lease by `LEASE` from now; False if the lease is no longer theirs."""
    with ctx.uow.step("renew-lease") as session:
        return renew_in(session, model, row_id, holder, ctx.now())


def renew_in(session: Session, model: Any, row_id: str, holder: str, now: datetime) -> bool:
    """`renew_lease` inside the caller's step (so a round's writes and its renewal commit together)."""
    return session.execute(update(model).where(model.id == row_id, model.lease_holder == holder)
                           .values(lease_until=now + LEASE)).rowcount == 1


def release_lease(ctx: HandlingContext, model: Any, row_id: str, holder: str, **values: Any) -> None:
    """Give the lease up (setting `values` with it), if `holder` still holds it."""
    with ctx.uow.step("release-lease") as session:
        release_in(session, model, row_id, holder, **values)


def release_in(session: Session, model: Any, row_id: str, holder: str, **values: Any) -> bool:
    """`release_lease` inside the caller's step; whether the lease was still `holder`'s."""
    return session.execute(update(model).where(model.id == row_id, model.lease_holder == holder)
                           .values(lease_until=None, lease_holder=None, **values)).rowcount == 1
