"""A token bucket per client key: the rate limit of public endpoints that cost CPU."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

VERIFY_RATE_PER_SECOND = 2.0
VERIFY_BURST = 30
VALIDATION_RATE_PER_SECOND = 0.2
VALIDATION_BURST = 5
"""A catalog administrator validates a draft now and then; a loop of them is refused."""
STRANGER_REFUSALS_PER_SECOND = 1.0
STRANGER_REFUSALS_BURST = 20
"""Exchange calls without a client token logged per address (`api.exchange_edge_log`)."""
MAX_KEYS = 10_000
"""Past this many tracked clients, those whose bucket has refilled are forgotten."""


@dataclass
class TokenBucket:
    """`burst` tokens per key, refilled at `rate_per_second` as `clock` (seconds) advances."""

    rate_per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            if len(self._buckets) > MAX_KEYS:
                refill = self.burst / self.rate_per_second
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
            tokens, stamp = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate_per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate_per_second
