"""A request id's reservation belongs to the claim that made it. When a process is only slow (a
source answering after `STALE_AFTER`), a retry takes the reservation over, as it would from a
process that died. The slow process, when it wakes, neither stores its answer over the new
holder's nor drops the new holder's reservation: it is refused as a conflict, and every
repetition of the request id gets the answer that was stored."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from demo.data import DemoResident
from exchange.access_log import AccessRecord
from exchange.answer_store import STALE_AFTER, AnsweredRequest
from exchange.pull_service import PullContext, PullRefused, answer_request
from exchange.sources.contract import SourceUnavailable
from tests.exchange.conftest import CLIENT, consented_envelope


def _stalled_once(context: PullContext, monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> None:
    """The sources answer the first query only after `meanwhile()` ran: the first process is slow."""
    query_all, stalled = context.sources.query_all, []

    def slow(queries: Any) -> Any:
        if not stalled:
            stalled.append(True)
            meanwhile()
        return query_all(queries)

    monkeypatch.setattr(context.sources, "query_all", slow)


def _stored(context: PullContext, request_id: str) -> AnsweredRequest | None:
    with context.sessions() as session:
        return session.scalars(select(AnsweredRequest).where(AnsweredRequest.request_id == request_id)).one_or_none()


def test_a_slow_process_does_not_store_its_answer_over_the_retry_that_took_the_request_over(
        pull_context: PullContext, person: DemoResident, monkeypatch: pytest.MonkeyPatch) -> None:
    envelope = consented_envelope(pull_context, person, "slow-1")
    later = replace(pull_context, clock=lambda: pull_context.clock() + STALE_AFTER + timedelta(seconds=1))
    retried: list[Any] = []
    _stalled_once(pull_context, monkeypatch, lambda: retried.append(answer_request(later, CLIENT, envelope)))

    with pytest.raises(PullRefused) as slow:
        answer_request(pull_context, CLIENT, envelope)
    assert slow.value.kind == "conflict" and slow.value.retry_after is not None
    [retry] = retried
    assert not retry.replayed
    again = answer_request(later, CLIENT, envelope)
    assert again.replayed and again.body == retry.body  # the retry's answer stands, receipt and all
    with pull_context.sessions() as session:
        logged = session.execute(select(AccessRecord.outcome, AccessRecord.reason)
                                 .where(AccessRecord.request_id == "slow-1").order_by(AccessRecord.seq)).all()
    assert [tuple(row) for row in logged] == [("allowed", None), ("allowed", None), ("denied", "conflict"),
                                              ("allowed", "replayed")]


def test_a_slow_process_whose_source_fails_does_not_drop_the_reservation_that_took_its_place(
        pull_context: PullContext, person: DemoResident, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow process's source fails while the retry that took its request over is still
    waiting for its own source: the retry's reservation stays, and its answer is stored."""
    envelope = consented_envelope(pull_context, person, "slow-2")
    later = replace(pull_context, clock=lambda: pull_context.clock() + STALE_AFTER + timedelta(seconds=1))
    query_all, retry_querying, slow_failed = pull_context.sources.query_all, threading.Event(), threading.Event()
    retried: list[Any] = []
    retrying = threading.Thread(target=lambda: retried.append(answer_request(later, CLIENT, envelope)))

    def sources(queries: Any) -> Any:
        if threading.current_thread() is retrying:  # it has claimed the request id; its source answers late
            retry_querying.set()
            assert slow_failed.wait(30)
        elif not retry_querying.is_set():  # the slow process: its source fails once the retry took over
            retrying.start()
            assert retry_querying.wait(30), "the retry never claimed the request"
            return [SourceUnavailable("BDC", "timed out", 30) for _ in queries]
        return query_all(queries)

    monkeypatch.setattr(pull_context.sources, "query_all", sources)
    try:
        with pytest.raises(PullRefused) as slow:
            answer_request(pull_context, CLIENT, envelope)
        assert slow.value.kind == "source-unavailable"
        held = _stored(pull_context, "slow-2")
        assert held is not None and held.status == "pending"  # the retry's reservation, not dropped
    finally:
        slow_failed.set()
        retrying.join(30)
    [retry] = retried
    assert not retry.replayed
    again = answer_request(later, CLIENT, envelope)
    assert again.replayed and again.body == retry.body
