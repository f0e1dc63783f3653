"""The public statistics cost the same however many case files the city holds and however
often they are asked for: each process counts the applications and the license library at most
once every `Settings.statistics_max_age` seconds, and every selection, the dashboard and the
license figures are added up from that count. The answers say when it was made (`counted_at`,
`Last-Modified`, 统计时间 on the page); an application filed meanwhile shows once the count is that
old and counted again (in a thread of its own, the old count answering meanwhile), not before;
a count twice that old is not answered from. Over real HTTP, on both databases."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import event

from api.app import create_app
from api.counted_statistics import COUNTING_SHARE, CountedStatistics
from api.settings import Settings
from catalog.city_time import BEIJING, format_date_zh
from tests.exchange.applications.test_statistics import Filing
from tests.support.live_server import serving

MAX_AGE = 6.0
"""Long enough that the steps between the first count and the check that it is still the one
answered (a filing with its pulls) end before it is due, on a loaded two-core machine too."""
COUNTED_TABLES = ("application_items", "licenses", "license_usages")


def test_the_statistics_are_counted_once_for_every_selection_until_they_are_old(settings: Settings) -> None:
    app = create_app(replace(settings, statistics_max_age=MAX_AGE))
    statements: list[str] = []
    event.listen(app.extensions["mianzheng"].engine, "before_cursor_execute",
                 lambda connection, cursor, statement, *rest: statements.append(statement))
    try:
        with serving(app) as base:
            filing = Filing(settings, base)
            [owner] = filing.households("owner")
            filing.retirement(owner, "tx-counted-1")

            first_asked = time.monotonic()  # the first count starts after this
            first, modified = _statistics(base)
            assert first["totals"]["applications_filed"] == 1
            counted_at = datetime.fromisoformat(first["counted_at"])
            assert modified == counted_at.replace(microsecond=0)

            statements.clear()
            only, _ = _statistics(base, matter="RETIREMENT", department="RS")
            assert only["counted_at"] == first["counted_at"] and only["totals"]["applications_filed"] == 1
            licenses = httpx.get(f"{base}/api/v1/statistics/licenses", timeout=30)
            assert licenses.status_code == 200
            assert parsedate_to_datetime(licenses.headers["Last-Modified"]) == modified
            page = httpx.get(f"{base}/statistics", timeout=30)
            assert page.status_code == 200
            beijing = counted_at.astimezone(BEIJING)
            assert f"统计时间 {format_date_zh(beijing)} {beijing:%H:%M:%S}（北京时间）" in page.text
            read = [statement for statement in statements if any(table in statement for table in COUNTED_TABLES)]
            assert read == [], "a selection, the licenses or the page counted again"

            filing.residence_permit(owner, "jzz-counted-2")
            assert _statistics(base)[0]["totals"]["applications_filed"] == 1  # the count of counted_at
            time.sleep(max(0.0, first_asked + MAX_AGE + 0.2 - time.monotonic()))  # due, not yet too old
            old, _ = _statistics(base)  # answered from the old count while a thread counts again
            assert old["counted_at"] == first["counted_at"] and old["totals"]["applications_filed"] == 1
            again = _statistics(base)[0]
            for _ in range(100):
                if again["counted_at"] != first["counted_at"]:
                    break
                time.sleep(0.05)
                again = _statistics(base)[0]
            assert again["totals"]["applications_filed"] == 2
            assert datetime.fromisoformat(again["counted_at"]) > counted_at

            filing.retirement(filing.households("owner", 2)[1], "tx-counted-3")
            time.sleep(2 * MAX_AGE + 0.5)  # no request meanwhile: too old to answer from, so counted first
            assert _statistics(base)[0]["totals"]["applications_filed"] == 3
    finally:
        app.extensions["mianzheng"].engine.dispose()


def _statistics(base: str, **params: str) -> tuple[dict[str, Any], datetime]:
    response = httpx.get(f"{base}/api/v1/statistics", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json(), parsedate_to_datetime(response.headers["Last-Modified"])


def test_one_count_slowed_by_a_stall_does_not_keep_its_figures_ten_times_as_long(settings: Settings) -> None:
    """A count is kept ten times as long as counting took, so a large city is not counted all the
    time. A count slowed by a passing stall (a table locked, a busy machine) in a small city must
    not keep its figures for minutes: it is paced by the shorter of its time and the last one's."""
    app = create_app(settings)
    sessions = app.extensions["mianzheng"].sessions
    max_age = 1.0
    counted = CountedStatistics(max_age=max_age)
    first = counted.current(sessions)

    stalls: list[float] = []
    stall = 2.0  # the applications table locked for two seconds: kept ten times as long, the count would stay 20 s

    def stalled() -> Any:
        stalls.append(time.monotonic())
        time.sleep(stall)
        return sessions()
    time.sleep(max(0.0, first.counted_on + max_age + 0.2 - time.monotonic()))  # due, not yet too old
    assert counted.current(stalled) is first  # due: counted again in a thread, the old count answers meanwhile
    # paced by the first count's time instead: replaced within ten times that (a loaded machine counts slowly)
    waited = stall + COUNTING_SHARE * first.took + 3.0
    assert waited < COUNTING_SHARE * stall, f"the first count took {first.took:.2f} s: too slow to tell"
    deadline, latest = time.monotonic() + waited, first
    while time.monotonic() < deadline and not (stalls and latest.counted_on > stalls[0] + stall):
        time.sleep(0.05)
        latest = counted.current(sessions)
    assert stalls and latest.counted_on > stalls[0] + stall, "a count slowed once was kept ten times as long as it took"

    restarted = CountedStatistics(max_age=max_age)  # a process's first count stalled: nothing to weigh it against
    stalled_first = restarted.current(stalled)
    deadline = time.monotonic() + max_age + 5.0  # kept max_age, then counted again in a thread
    while time.monotonic() < deadline and restarted.current(sessions) is stalled_first:
        time.sleep(0.05)
    assert restarted.current(sessions) is not stalled_first, "a stalled first count was kept ten times as long"
    app.extensions["mianzheng"].engine.dispose()
