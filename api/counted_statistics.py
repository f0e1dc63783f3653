"""The public statistics as this process last counted them: the applications' figures per month,
matter and handling department (`exchange.applications.statistics`) and the license library's
use (`exchange.licenses.statistics`), counted together, with the time of counting.

Counting reads every application and proof item the city holds, so it is not done per request:
`GET /api/v1/statistics` (any selection), `GET /api/v1/statistics/licenses` and the dashboard
are added up from the last count (each selection once, and kept with the count). A request that
finds the count older than `Settings.statistics_max_age` and than ten times what counting took
(so counting takes at most a tenth of a process's time however large the city grows; the
shorter of the last two counts' times, so one count slowed by a stall does not hold its figures
ten times as long) starts a thread that counts again, and is answered from the count it found,
as are the requests that come while the thread counts. A count twice that old is not answered
from: the request counts (or waits for the count under way), as the first request of a process
does. So an answer's figures are at most about two minutes old in a small city."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exchange.applications.statistics import (CountedApplications, PaperStatistics, Selection, count_applications,
                                              paper_statistics)
from exchange.licenses.statistics import CountedLicenses, count_licenses

LOG = logging.getLogger(__name__)
COUNTING_SHARE = 10
"""A count is kept at least this many times as long as it took."""
SELECTIONS_KEPT = 256
"""Selections added up from one count and kept for the next request that asks for them."""


@dataclass(frozen=True)
class CityStatistics:
    applications: CountedApplications
    licenses: CountedLicenses
    counted_at: datetime
    """When the count started (UTC); it holds what was committed then."""
    took: float
    """Seconds the count took."""
    counted_on: float
    """`time.monotonic()` when it started."""
    pace: float
    """What its age is weighed against: the shorter of `took` and the last count's, so one count
    slowed by a passing stall (a table locked, a busy machine) is not kept ten times that long,
    while a city grown large is counted less often from its second slow count on. A process's
    first count has none before it: it is kept `max_age`, and the next count sets the pace."""
    _selected: dict[Selection, PaperStatistics] = field(default_factory=dict, repr=False)

    def paper(self, selection: Selection) -> PaperStatistics:
        """The figures of the applications `selection` selects, added up once per count."""
        found = self._selected.get(selection)
        if found is None:
            if len(self._selected) >= SELECTIONS_KEPT:
                self._selected.clear()
            found = self._selected[selection] = paper_statistics(self.applications, selection)
        return found

    def due(self, max_age: float) -> bool:
        """Whether a request should have it counted again (in a thread of its own)."""
        return max_age <= 0 or self._age() >= self._kept(max_age)

    def stale(self, max_age: float) -> bool:
        """Whether it is too old to answer from at all: twice as old as when it fell due (a
        process that went without a statistics request that long)."""
        return self._age() >= 2 * self._kept(max_age)

    def _age(self) -> float:
        return time.monotonic() - self.counted_on

    def _kept(self, max_age: float) -> float:
        return max(max_age, COUNTING_SHARE * self.pace)


class CountedStatistics:
    """The last count of a process, counted again when due."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._last: CityStatistics | None = None
        self._counting = threading.Lock()

    def current(self, sessions: sessionmaker[Session]) -> CityStatistics:
        last = self._last
        if last is None or self.max_age <= 0 or last.stale(self.max_age):
            with self._counting:  # the request waits for the count (or the one under way)
                if self._last is None or self._last.due(self.max_age):
                    self._last = _count(sessions, self._last, self.max_age)
                return self._last
        if last.due(self.max_age) and self._counting.acquire(blocking=False):
            threading.Thread(target=self._count_again, args=(sessions,), name="statistics-count", daemon=True).start()
        return last

    def _count_again(self, sessions: sessionmaker[Session]) -> None:
        """In a thread of its own, holding `_counting`; a failure leaves the last count for a later request."""
        try:
            self._last = _count(sessions, self._last, self.max_age)
        except OperationalError as unavailable:  # the database cannot be used now: said once per attempt, briefly
            LOG.warning("counting the public statistics again failed, the last count is kept: %s",
                        unavailable.orig if unavailable.orig is not None else unavailable)
        except Exception:
            LOG.exception("counting the public statistics again failed; the last count is kept")
        finally:
            self._counting.release()


def _count(sessions: sessionmaker[Session], last: CityStatistics | None, max_age: float) -> CityStatistics:
    counted_on, counted_at = time.monotonic(), datetime.now(timezone.utc)
    with sessions() as session:
        applications = count_applications(session)
        licenses = count_licenses(session, counted_at)
    took = time.monotonic() - counted_on
    return CityStatistics(applications=applications, licenses=licenses, counted_at=counted_at, took=took,
                          counted_on=counted_on,
                          pace=min(took, max_age / COUNTING_SHARE) if last is None else min(took, last.took))
