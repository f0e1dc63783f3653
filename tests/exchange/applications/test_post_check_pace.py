"""事后核查 as the scheduled jobs run it leaves room for the requests being served: a paced pass
rests between its checks (the jobs process is busy at most a quarter of the pass), starts no
check after its budget and leaves the rest for the next pass, which checks them; a stopping
pass starts none. The jobs' sweep runs its checks so, and an operator's run checks everything
due."""

from __future__ import annotations

import threading
import time

from api.jobs import sweep
from api.runtime import Runtime
from api.settings import Settings
from demo.applications import PUBLIC_RENTAL_HOUSING
from exchange.applications.context import HandlingContext
from exchange.applications.leases import new_holder
from exchange.applications.post_check import Pace, due_commitments, verify_commitments
from exchange.applications.resolution import resolve_application
from exchange.applications.service import submit_application
from exchange.clients import AuthenticatedClient
from tests.exchange.applications.conftest import housing_request

APPLICATIONS = 3


def _file(ctx: HandlingContext, settings: Settings, client: AuthenticatedClient) -> int:
    """File and decide `APPLICATIONS` applications; the number of commitments due."""
    for number in range(APPLICATIONS):
        filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, f"pace-{number}"))
        resolve_application(ctx, filed.application_id)
    return len(due_commitments(ctx))


def test_a_paced_pass_rests_between_checks_and_leaves_the_rest_to_the_next(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    due = _file(ctx, settings, client)
    assert due >= APPLICATIONS + 1

    stopping = threading.Event()
    stopping.set()
    report = verify_commitments(ctx, pace=Pace(60.0, 3.0, stopping))
    assert (report.confirmed, report.deferred) == (0, due)
    assert len(due_commitments(ctx)) == due

    spent = verify_commitments(ctx, pace=Pace(0.0, 0.0, threading.Event()))  # budget spent after the first check
    assert (spent.confirmed + spent.false + spent.on_site, spent.deferred) == (1, due - 1)
    assert len(due_commitments(ctx)) == due - 1

    wall, cpu = time.monotonic(), time.thread_time()
    paced = verify_commitments(ctx, pace=Pace(60.0, 3.0, threading.Event()))
    wall, cpu = time.monotonic() - wall, time.thread_time() - cpu
    assert (paced.confirmed, paced.false, paced.on_site, paced.deferred) == (due - 1, 0, 0, 0)
    assert due_commitments(ctx) == []
    assert cpu <= wall / 4 + 0.01, f"checking took {cpu:.3f} s of {wall:.3f} s"


def test_an_operators_run_checks_everything_due_at_full_speed(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    due = _file(ctx, settings, client)
    report = verify_commitments(ctx)
    assert (report.confirmed, report.deferred) == (due, 0)
    assert due_commitments(ctx) == []


def test_the_jobs_sweep_runs_the_checks_paced(ctx: HandlingContext, settings: Settings,
                                              client: AuthenticatedClient) -> None:
    due = _file(ctx, settings, client)
    current = Runtime.start(settings)
    try:
        stopping = threading.Event()
        stopping.set()
        assert sweep(current, new_holder(), 30.0, stopping).checks.deferred == due
        assert len(due_commitments(ctx)) == due
        checks = sweep(current, new_holder(), 30.0).checks
        assert (checks.confirmed, checks.deferred) == (due, 0)
        assert due_commitments(ctx) == []
    finally:
        current.engine.dispose()
