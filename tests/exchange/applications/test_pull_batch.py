"""An application's pulls are one batch: every pull still authorised and logged as its own entry
of the hash chain, its answer stored together with the item it settles; a source that is down
leaves its items waiting and loses nothing; a process killed while storing the answers leaves
neither an answer without its item nor an item without its answer, and the next sweep finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from api.settings import Settings
from demo.applications import PUBLIC_RENTAL_HOUSING
from exchange.access_log import AccessRecord, verify_chain
from exchange.answer_store import STALE_AFTER, AnsweredRequest
from exchange.applications.context import LEASE, HandlingContext
from exchange.applications.records import Application, ApplicationItem
from exchange.applications.resolution import resolve_application
from exchange.applications.service import resume_due, submit_application
from exchange.clients import AuthenticatedClient
from exchange.receipts import receipt_id
from exchange.sources.http_source import HttpSource, HttpSourceSettings
from tests.exchange.applications.conftest import ahead, housing_request
from tests.support.postgres import free_port

DOWN = "BDC"
"""The source department taken down: the real-estate registry (无房证明, no commitment stands in)."""


def _file(ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, request_id: str) -> str:
    return submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, request_id)).application_id


def _entries(ctx: HandlingContext, application_id: str) -> list[AccessRecord]:
    with ctx.pull.sessions() as session:
        return list(session.scalars(select(AccessRecord).where(AccessRecord.request_id.like(f"app:{application_id}:%"))
                                    .order_by(AccessRecord.seq)))


def _items(ctx: HandlingContext, application_id: str) -> list[ApplicationItem]:
    with ctx.pull.sessions() as session:
        return list(session.scalars(select(ApplicationItem).where(ApplicationItem.application_id == application_id)))


def _stored(ctx: HandlingContext, client: AuthenticatedClient, application_id: str) -> dict[str, AnsweredRequest]:
    with ctx.pull.sessions() as session:
        rows = session.scalars(select(AnsweredRequest).where(AnsweredRequest.client_id == client.client_id,
                                                             AnsweredRequest.request_id.like(f"app:{application_id}:%")))
        return {row.request_id: row for row in rows}


def _chain_intact(ctx: HandlingContext) -> bool:
    with ctx.pull.sessions() as session:
        return verify_chain(session).intact


def _pulled_items(ctx: HandlingContext, application_id: str) -> list[ApplicationItem]:
    """The items the exchange pulls: every mode but commitments, investigations and abolished proofs."""
    return [item for item in _items(ctx, application_id)
            if item.mode not in ("commitment", "investigation", "abolished") and item.party != "-"]


def test_every_pull_of_an_application_is_its_own_chained_entry(ctx: HandlingContext, settings: Settings,
                                                               client: AuthenticatedClient) -> None:
    application_id = _file(ctx, settings, client, "batch-1")
    resolve_application(ctx, application_id)
    pulled = _pulled_items(ctx, application_id)
    assert len(pulled) >= 2
    allowed = [entry for entry in _entries(ctx, application_id) if entry.outcome == "allowed" and entry.reason is None]
    assert sorted(entry.request_id for entry in allowed) == sorted(f"app:{application_id}:{item.id}" for item in pulled)
    assert all(entry.consent_id for entry in allowed)  # each authorised by the household's counter consent
    assert all(b.prev_hash == a.entry_hash for a, b in zip(allowed, allowed[1:]))  # one unit: consecutive links
    assert _chain_intact(ctx)
    stored = _stored(ctx, client, application_id)
    for item in pulled:
        if item.state == "resolved":
            row = stored[f"app:{application_id}:{item.id}"]
            assert row.status == "completed"
            body = ctx.pull.answers.open(row.answer_sealed, f"{client.client_id}\napp:{application_id}:{item.id}")
            assert receipt_id(body["receipt"]) == item.receipt_id
    with ctx.pull.sessions() as session:
        assert session.get(Application, application_id).status == "decided"


def test_a_source_that_is_down_leaves_its_items_waiting_and_loses_nothing(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    sources = ctx.pull.sources.sources
    running = sources[DOWN]
    sources[DOWN] = HttpSource(DOWN, HttpSourceSettings(url=f"http://127.0.0.1:{free_port()}", token="t" * 16,
                                                        retries=0, timeout_seconds=1), ctx.catalog)
    try:
        application_id = _file(ctx, settings, client, "batch-down")
        resolve_application(ctx, application_id)
    finally:
        sources[DOWN] = running
    down = [item for item in _pulled_items(ctx, application_id) if item.department == DOWN]
    assert down and all(item.state == "waiting" and item.next_attempt_at is not None for item in down)
    assert any(item.state == "resolved" for item in _pulled_items(ctx, application_id))
    entries = _entries(ctx, application_id)
    stored = _stored(ctx, client, application_id)
    for item in down:
        request_id = f"app:{application_id}:{item.id}"
        outcomes = [(entry.outcome, entry.reason) for entry in entries if entry.request_id == request_id]
        assert outcomes == [("allowed", None), ("failed", "source-unavailable")]
        assert request_id not in stored  # the reservation is released: the next attempt pulls again
    with ctx.pull.sessions() as session:
        assert session.get(Application, application_id).status == "waiting"
    assert _chain_intact(ctx)

    later = ahead(ctx, timedelta(minutes=10))  # the source is back and the items are due
    assert resume_due(later) == [application_id]
    assert all(item.state == "resolved" for item in _items(ctx, application_id) if item.department == DOWN
               and item.id in {d.id for d in down})
    with ctx.pull.sessions() as session:
        assert session.get(Application, application_id).status == "decided"
    assert _chain_intact(ctx)


_KILLED_WHILE_STORING = """
import sys, time
from pathlib import Path
from api.application_services import build_handling_context
from api.runtime import Runtime
from api.settings import Settings
import exchange.applications.resolution as resolution

var_dir, database_url, application_id, marker = sys.argv[1:]
stored = resolution._store_pulls

def store_then_hang(ctx, session, settled):
    stored(ctx, session, settled)
    session.flush()  # the answers and the items are written, not committed
    Path(marker).write_text("storing")
    time.sleep(600)

resolution._store_pulls = store_then_hang
current = Runtime.start(Settings(var_dir=Path(var_dir), database_url=database_url,
                                 public_url="http://127.0.0.1:8000", dev_idp=True))
resolution.resolve_application(build_handling_context(current, *current.published_catalog()), application_id)
"""


def test_a_process_killed_while_storing_the_answers_leaves_nothing_half_written(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, tmp_path: Path
) -> None:
    application_id = _file(ctx, settings, client, "batch-killed")
    marker = tmp_path / "storing"
    worker = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_STORING, str(settings.var_dir),
                               settings.database_url, application_id, str(marker)], cwd=Path(__file__).parents[3])
    try:
        for _ in range(1200):
            if marker.exists() or worker.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the worker never reached the step that stores the answers"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()

    pulled = _pulled_items(ctx, application_id)
    assert pulled and all(item.state == "pending" and item.receipt_id is None for item in pulled)
    stored = _stored(ctx, client, application_id)
    assert stored and all(row.status == "pending" and row.answer_sealed is None for row in stored.values())
    allowed = [e for e in _entries(ctx, application_id) if e.outcome == "allowed" and e.reason is None]
    assert len(allowed) == len(pulled)  # the queries the sources answered are logged all the same
    assert _chain_intact(ctx)

    later = ahead(ctx, max(LEASE, STALE_AFTER) + timedelta(seconds=1))
    assert resume_due(later) == [application_id]
    with ctx.pull.sessions() as session:
        assert session.get(Application, application_id).status == "decided"
    stored = _stored(ctx, client, application_id)
    for item in _pulled_items(ctx, application_id):
        if item.state == "resolved":
            row = stored[f"app:{application_id}:{item.id}"]
            body = ctx.pull.answers.open(row.answer_sealed, f"{client.client_id}\napp:{application_id}:{item.id}")
            assert receipt_id(body["receipt"]) == item.receipt_id
    allowed = [e for e in _entries(ctx, application_id) if e.outcome == "allowed" and e.reason is None]
    assert len(allowed) == 2 * len(pulled)  # pulled again after the takeover, and logged again
    assert _chain_intact(ctx)
