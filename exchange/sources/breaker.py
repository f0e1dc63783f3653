"""A circuit breaker per source: after `failure_threshold` consecutive failed attempts it
opens and calls fail fast for `cooldown_seconds`; then it is half-open and lets one trial
call through (others still fail fast); the trial's success closes it, its failure opens it
again for another cool-down.

State lives in the process (each gunicorn worker has its own breakers). The lock guards
only the state changes, never a call, so calls to a healthy source run concurrently.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum

HALF_OPEN_RETRY_SECONDS = 1
"""What callers turned away while a half-open trial is in flight are told to wait."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """The breaker turned the call away; `retry_after_seconds` until it lets a trial through."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"circuit breaker open, retry in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class CircuitBreaker:
    """Usage: `admit()` before a call (raises CircuitOpen), then exactly one of
    `record_success()` or `record_failure()` after it."""

    def __init__(
        self, failure_threshold: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds <= 0:
            raise ValueError("a breaker needs failure_threshold >= 1 and cooldown_seconds > 0")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._opened_at is None:
                return BreakerState.CLOSED
            if self._trial_in_flight or self._remaining() <= 0:
                return BreakerState.HALF_OPEN
            return BreakerState.OPEN

    def admit(self) -> None:
        """Let a call through, or raise CircuitOpen."""
        with self._lock:
            if self._opened_at is None:
                return
            remaining = self._remaining()
            if remaining > 0:
                raise CircuitOpen(max(1, math.ceil(remaining)))
            if self._trial_in_flight:
                raise CircuitOpen(HALF_OPEN_RETRY_SECONDS)
            self._trial_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_in_flight = False

    def _remaining(self) -> float:
        assert self._opened_at is not None
        return self._opened_at + self.cooldown_seconds - self._clock()
