"""The circuit breaker's states on a controlled clock."""

from __future__ import annotations

import pytest

from exchange.sources.breaker import BreakerState, CircuitBreaker, CircuitOpen
from tests.support.clock import ManualClock as Clock


def test_opens_after_consecutive_failures_then_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=10, clock=clock)
    for _ in range(2):
        breaker.admit()
        breaker.record_failure()
    breaker.admit()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.admit()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 2.5
    with pytest.raises(CircuitOpen) as turned_away:
        breaker.admit()
    assert turned_away.value.retry_after_seconds == 8
    clock.now += 7.5
    breaker.admit()  # the trial
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.admit()  # only one trial at a time
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.admit()


def test_a_failed_trial_opens_it_again_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=clock)
    breaker.admit()
    breaker.record_failure()
    clock.now += 5
    breaker.admit()
    breaker.record_failure()
    with pytest.raises(CircuitOpen) as turned_away:
        breaker.admit()
    assert turned_away.value.retry_after_seconds == 5


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0, cooldown_seconds=1)
