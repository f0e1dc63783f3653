"""What the matter handlers need from the installation, and the small helpers every use case
shares: the clock, the seal box for personal data, the client a resumed application pulls as."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from catalog.model import Catalog
from exchange.clients import AuthenticatedClient, ClientRecord, ClientRevoked, ClientScope
from exchange.identity import CitizenIdentity
from exchange.keyring import Purpose, RecordCipher, Sealed
from exchange.pull_service import PullContext
from exchange.staff import STAFF_CLIENT_PREFIX
from exchange.unit_of_work import UnitOfWork

LEASE = timedelta(minutes=2)
"""How long a process may work on one application before another may take it over."""
PULL_WORKERS = 8
"""Pulls of one application run in parallel on up to this many threads."""


@dataclass(frozen=True)
class HandlingContext:
    """The exchange's pull context plus what matter handling adds."""

    pull: PullContext
    verify_identity: Callable[[str], CitizenIdentity] | None = None
    """Verifies an applicant's identity assertion (online signatures); None: online signing is off."""
    progress: Callable[[], None] | None = None
    """Called before each round of an application's resolution (each asks its sources at most
    `MAX_QUERY_SECONDS`): the jobs process tells its supervisor it is alive (`api.jobs_supervisor`)."""

    @property
    def catalog(self) -> Catalog:
        return self.pull.catalog

    @property
    def uow(self) -> UnitOfWork:
        return self.pull.uow

    @property
    def box(self) -> RecordCipher:
        return self.pull.answers.for_purpose(Purpose.APPLICATION_DATA)

    def now(self) -> datetime:
        return self.pull.clock()

    def seal(self, document: dict[str, Any], bound_to: str) -> Sealed:
        return self.box.seal(document, application_bound(bound_to))

    def open(self, sealed: Sealed, bound_to: str) -> dict[str, Any]:
        return self.box.open(sealed, application_bound(bound_to))


def application_bound(bound_to: str) -> str:
    """What application data sealed for `bound_to` is bound to (apart from every other sealed value)."""
    return f"application-data\n{bound_to}"


def acting_client(ctx: HandlingContext, client_id: str, department: str) -> AuthenticatedClient:
    """The department system an application (or tenancy) belongs to, as its later pulls act:
    resumed, re-checked or 事后核查 long after the request that filed it. ClientRevoked when the
    system has been revoked since: its pending work must not go on pulling in its name. An
    application a staff member filed on the caseworker page belongs to their department and goes
    on in its name (its pulls keep naming that staff member as the caseworker)."""
    if client_id.startswith(STAFF_CLIENT_PREFIX):
        return AuthenticatedClient(client_id=client_id, department_code=department, name="",
                                   scopes=frozenset({ClientScope.EXCHANGE_REQUEST.value}))
    with ctx.uow.read() as session:
        record = session.scalars(select(ClientRecord).where(ClientRecord.public_id == client_id)).first()
        active = record is not None and record.active
    if not active:
        raise ClientRevoked(f"client {client_id} of {department} has been revoked")
    return AuthenticatedClient(client_id=client_id, department_code=department, name="",
                               scopes=frozenset({ClientScope.EXCHANGE_REQUEST.value}))
