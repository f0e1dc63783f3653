"""事后核查 as the scheduled jobs run it leaves room for the requests being served: a paced pass
rests between its checks (the jobs process is busy at most a quarter of the pass), starts no
check after its budget and leaves the rest for the next pass, which checks them; a stopping
pass starts none. The jobs' sweep runs its checks so, and an operator's run checks everything
due."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from api.application_services import build_handling_context
from api.jobs import sweep
from api.runtime import Runtime
from api.settings import Settings
from demo.applications import PUBLIC_RENTAL_HOUSING
from exchange.applications.context import HandlingContext
from exchange.applications.leases import new_holder
from exchange.applications.post_check import Pace, due_commitments, verify_commitments
from exchange.applications.resolution import resolve_application
from exchange.applications.service import submit_application
from exchange.clients import AuthenticatedClient, ClientScope, register_client
from tests.exchange.applications.conftest import housing_request

APPLICATIONS = 3
SLOW_SOURCE_SECONDS = 0.5
SWEEP_INTERVAL = 120.0
"""A pass's budget: its six paced checks take 20-30 s of a quiet 2-core machine (three times each
check's CPU as rest), so the 30 s of production left some for the next pass under load."""


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
        assert sweep(current, new_holder(), SWEEP_INTERVAL, stopping).checks.deferred == due
        assert len(due_commitments(ctx)) == due
        checks = sweep(current, new_holder(), SWEEP_INTERVAL).checks
        assert (checks.confirmed, checks.deferred) == (due, 0)
        assert due_commitments(ctx) == []
    finally:
        current.engine.dispose()


class _RecordedRests(threading.Event):
    """A stop event that is never set and records each rest a pass asks for (without resting)."""

    def __init__(self) -> None:
        super().__init__()
        self.rests: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.rests.append(timeout or 0.0)
        return False


def test_waiting_on_a_slow_source_is_not_counted_as_work(settings: Settings, tmp_path: Path) -> None:
    """Civil affairs' connector takes half a second to answer each check: that is the source's
    time, not the jobs' work. Resting 29 times the wall time, the jobs would check about 120
    commitments an hour; a pass rests in proportion to the CPU a check took, a fraction of the
    wait. (A check's own CPU varies with the machine, the first one's most: the bound is what
    resting on the wait would give, not a guess at the CPU.)"""
    from tests.exchange.sources.stub_server import Reply, Script, stub_connector

    with stub_connector(Script([Reply(status=503, delay_seconds=SLOW_SOURCE_SECONDS)])) as url:
        sources = tmp_path / "sources.yaml"
        sources.write_text(f"departments:\n  MZ:\n    url: {url}\n    token: a-long-shared-token-1234\n"
                           "    timeout_seconds: 2\n    retries: 0\n    breaker_failures: 1000\n", encoding="utf-8")
        current = Runtime.start(dataclasses.replace(settings, sources_file=sources))
        try:
            ctx = build_handling_context(current, *current.published_catalog())
            with ctx.pull.sessions() as session:
                record, _token = register_client(session, ctx.catalog, "ZJ", "公租房审批系统",
                                                 [ClientScope.APPLICATIONS_WRITE])
                session.commit()
            client = AuthenticatedClient(record.public_id, "ZJ", record.name, frozenset(record.scope_list))
            filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "slow-mz"))
            resolve_application(ctx, filed.application_id)
            due = due_commitments(ctx)
            assert due
            stop = _RecordedRests()
            report = verify_commitments(ctx, due, pace=Pace(60.0, 3.0, stop))
        finally:
            current.engine.dispose()
    assert report.still_pending == len(due) and len(stop.rests) == len(due)
    assert max(stop.rests) < 3.0 * SLOW_SOURCE_SECONDS, stop.rests  # resting on the wait gives at least this
