"""When a document's validity ends: its `valid_until` is the last second it is valid in.

Documents state their end to the second: a license stated valid until a day ends at 23:59:59
Beijing time, a certificate whose record ends on a day likewise. A clock read to the
microsecond would call such a document lapsed during that last second (at 23:59:59.3 of its
last day), so it is valid through the whole second and lapsed from the next.
"""

from __future__ import annotations

from datetime import datetime


def lapsed(valid_until: datetime, now: datetime) -> bool:
    """Whether a validity ending with the second `valid_until` is over at `now`."""
    return whole_second(now) > valid_until


def whole_second(now: datetime) -> datetime:
    """`now` to the second, as validity ends are stated (for a query: lapsed once `valid_until` is before it)."""
    return now.replace(microsecond=0)
