"""Nothing is lost when the process resolving an application dies: the application stays
leased until its lease runs out, then the next sweep resolves it; pulls that had already
happened are replayed from the stored answers, never pulled again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from api.application_services import build_handling_context
from api.runtime import Runtime
from api.settings import Settings
from exchange.access_log import AccessRecord
from exchange.applications.context import LEASE, HandlingContext
from demo.applications import PUBLIC_RENTAL_HOUSING, public_housing_request
from exchange.applications.records import Application, ApplicationItem
from exchange.applications.resolution import resolve_application
from exchange.applications.service import ApplicationRequest, PartyInput, resume_due, submit_application
from exchange.clients import AuthenticatedClient, ClientScope, register_client, revoke_client
from demo.data import demo_households


@pytest.fixture
def ctx(settings: Settings) -> Iterator[HandlingContext]:
    current = Runtime.start(settings)
    yield build_handling_context(current, *current.published_catalog())
    current.engine.dispose()


def _later(ctx: HandlingContext, by: timedelta) -> HandlingContext:
    clock = ctx.pull.clock
    return replace(ctx, pull=replace(ctx.pull, clock=lambda: clock() + by))


def _request(ctx: HandlingContext, settings: Settings, request_id: str) -> ApplicationRequest:
    [household] = demo_households(settings.sources_dir, ctx.catalog, "public_housing_eligible", 1)
    body = public_housing_request(household, request_id, signed_at=datetime.now(timezone.utc))
    return ApplicationRequest(
        request_id=request_id, caseworker_id=body["caseworker_id"], case_number=body["case_number"],
        applicant=PartyInput(**body["applicant"]), members=[PartyInput(**m) for m in body["members"]],
        options=body["options"], counter_consent=True, commitments=body["commitments"], signature=body["signature"])


@pytest.fixture
def client(ctx: HandlingContext) -> AuthenticatedClient:
    with ctx.pull.sessions() as session:
        record, _token = register_client(session, ctx.catalog, "ZJ", "公租房审批系统", [ClientScope.APPLICATIONS_WRITE])
        session.commit()
        return AuthenticatedClient(record.public_id, "ZJ", record.name, frozenset(record.scope_list))


def _pulls(ctx: HandlingContext, application_id: str) -> int:
    with ctx.pull.sessions() as session:
        return session.scalar(select(func.count()).select_from(AccessRecord)
                              .where(AccessRecord.request_id.like(f"app:{application_id}:%"))
                              .where(AccessRecord.reason.is_(None)))


def test_an_application_left_by_a_dead_process_is_resolved_by_the_next_sweep(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, _request(ctx, settings, "died-1"))
    resolve_application(ctx, filed.application_id)
    pulled = _pulls(ctx, filed.application_id)
    assert pulled > 0
    with ctx.pull.sessions() as session:  # as if the process died half-way: items back to pending, lease held
        session.execute(update(ApplicationItem).where(ApplicationItem.application_id == filed.application_id)
                        .where(ApplicationItem.state == "resolved").values(state="pending", values_sealed=None))
        session.execute(update(Application).where(Application.id == filed.application_id).values(
            status="resolving", decision=None, lease_until=datetime.now(timezone.utc) + LEASE))
        session.commit()
    assert resume_due(ctx) == []  # the lease still holds
    later = _later(ctx, LEASE + timedelta(seconds=1))
    assert resume_due(later) == [filed.application_id]
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert application is not None and application.status == "decided" and application.decision == "eligible"
    assert _pulls(ctx, filed.application_id) == pulled  # replays, not new pulls
    with ctx.pull.sessions() as session:
        def count(reason: str) -> int:
            return session.scalar(select(func.count()).select_from(AccessRecord).where(
                AccessRecord.request_id.like(f"app:{filed.application_id}:%"), AccessRecord.reason == reason))
        assert count("replayed") == pulled - count("subject-not-found")  # every answered pull replayed once


def test_two_processes_never_resolve_the_same_application_at_once(ctx: HandlingContext, settings: Settings,
                                                                  client: AuthenticatedClient) -> None:
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, _request(ctx, settings, "lease-1"))
    with ctx.pull.sessions() as session:
        session.execute(update(Application).where(Application.id == filed.application_id)
                        .values(lease_until=datetime.now(timezone.utc) + LEASE))
        session.commit()
    assert resolve_application(ctx, filed.application_id) is False
    with ctx.pull.sessions() as session:
        items = session.scalar(select(func.count()).select_from(ApplicationItem)
                               .where(ApplicationItem.application_id == filed.application_id))
    assert items == 0


def test_a_revoked_system_pulls_nothing_more(ctx: HandlingContext, settings: Settings,
                                             client: AuthenticatedClient) -> None:
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, _request(ctx, settings, "revoked-1"))
    with ctx.pull.sessions() as session:
        revoke_client(session, client.client_id)
        session.commit()
    resolve_application(ctx, filed.application_id)
    assert _pulls(ctx, filed.application_id) == 0
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        states = set(session.scalars(select(ApplicationItem.state).where(
            ApplicationItem.application_id == filed.application_id, ApplicationItem.mode != "commitment")))
    assert application is not None and application.decision != "eligible"
    assert "denied" in states and "resolved" not in states
