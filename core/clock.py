"""The clock: the current time, always timezone-aware UTC. Use cases take a `Clock` (default
`utc_now`), so a caller can give them another time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
