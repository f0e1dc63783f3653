"""What the applications tests share: the handling context of a fresh installation, the housing
bureau's system as a client, a demo household's 公租房 request, and the context seen later."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from api.application_services import build_handling_context
from api.runtime import Runtime
from api.settings import Settings
from demo.applications import public_housing_request
from demo.data import demo_households
from exchange.applications.context import HandlingContext
from exchange.applications.service import ApplicationRequest, PartyInput
from exchange.clients import AuthenticatedClient, ClientScope, register_client


@pytest.fixture
def ctx(settings: Settings) -> Iterator[HandlingContext]:
    current = Runtime.start(settings)
    yield build_handling_context(current, *current.published_catalog())
    current.engine.dispose()


@pytest.fixture
def client(ctx: HandlingContext) -> AuthenticatedClient:
    with ctx.pull.sessions() as session:
        record, _token = register_client(session, ctx.catalog, "ZJ", "公租房审批系统", [ClientScope.APPLICATIONS_WRITE])
        session.commit()
        return AuthenticatedClient(record.public_id, "ZJ", record.name, frozenset(record.scope_list))


def housing_request(ctx: HandlingContext, settings: Settings, request_id: str) -> ApplicationRequest:
    """The 公租房 application of the first eligible demo household, with its counter consent."""
    [household] = demo_households(settings.sources_dir, ctx.catalog, "public_housing_eligible", 1)
    body = public_housing_request(household, request_id, signed_at=datetime.now(timezone.utc))
    return ApplicationRequest(
        request_id=request_id, caseworker_id=body["caseworker_id"], case_number=body["case_number"],
        applicant=PartyInput(**body["applicant"]), members=[PartyInput(**m) for m in body["members"]],
        options=body["options"], counter_consent=True, commitments=body["commitments"], signature=body["signature"])


def ahead(ctx: HandlingContext, by: timedelta) -> HandlingContext:
    """The context whose clock runs `by` ahead."""
    clock = ctx.pull.clock
    return replace(ctx, pull=replace(ctx.pull, clock=lambda: clock() + by))
