"""The scheduled jobs, run every `interval` seconds next to the server: resume the applications a
down source or a dead process left waiting, run 事后核查 on the commitments whose check is due,
sign every status list (each certificate list, the license list) again before it expires, delete stored exchange answers past
their retention, and record a heartbeat that `/readyz` reports. `mianzheng serve` runs them in a
supervised process forked from gunicorn's arbiter (`api.jobs_supervisor`); `mianzheng jobs run`
runs them alone, e.g. under a system timer or on a node of its own. The jobs process holds the
exchange's seal key (it signs the status list), never the city root key.

事后核查 is the one job whose work grows with the traffic (a check per commitment filed), so a
pass runs it paced (`CHECK_REST_RATIO`): checks take at most a thirtieth of the pass's time, and the
pass starts none after one interval, so the heartbeat stays on time; while checks are left, the
next pass follows at once. Resuming applications is not paced: someone is waiting for each.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from api.application_services import build_handling_context
from api.catalog_publication import catalog_names
from api.ended_sessions import sweep_ended_sessions
from api.runtime import Runtime
from api.settings import Settings
from api.seal_config import status_list_signing
from catalog.errors import NoCatalogPublished
from exchange.answer_store import purge_expired
from exchange.applications.leases import new_holder
from exchange.applications.post_check import CheckReport, Pace, verify_commitments
from exchange.applications.service import resume_due
from exchange.job_heartbeats import JOBS_NAME, beat
from exchange.status_lists import list_ids, refresh_status_list
from exchange.status_list_kinds import STATUS_LISTS
from exchange.unit_of_work import UnitOfWork
from seals.registry import CRL_WARNING, crl_next_update, seals_ending, seals_named_otherwise

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SECONDS = 30.0
CHECK_REST_RATIO = 29.0  # 事后核查 rests 29 times as long as each check took: a thirtieth of a core at most


@dataclass(frozen=True)
class SweepReport:
    resumed: int
    checks: CheckReport
    status_list_signed: bool
    answers_purged: int


def sweep(current: Runtime, holder: str, interval: float, stop: threading.Event | None = None,
          alive: Callable[[], None] = lambda: None) -> SweepReport:
    """One pass of every job against the live catalog, then the heartbeat; `stop` cuts the paced
    事后核查 short; `alive` is called with each heartbeat, each round of an application's resolution
    and each 事后核查 check (the supervisor's watch)."""
    uow = UnitOfWork(current.sessions)
    now = datetime.now(timezone.utc)
    signing = status_list_signing(current.settings, current.seal_settings)
    signed = False
    for kind in STATUS_LISTS:
        with uow.read() as session:
            numbers = list_ids(session, kind)
        for list_id in numbers:
            with uow.step("refresh-status-list") as session:
                signed = refresh_status_list(session, kind, list_id, signing, now) or signed
    with uow.step("purge-answers") as session:
        purged = purge_expired(session, now)
    with uow.step("sweep-ended-sessions") as session:
        sweep_ended_sessions(session, now)
    ctx = replace(build_handling_context(current, *current.published_catalog()), progress=alive)
    def beat_now() -> None:
        _beat(uow, holder, interval)
        alive()

    resumed = resume_due(ctx, after_each=lambda _application_id: beat_now())
    checks = verify_commitments(ctx, pace=Pace(interval, CHECK_REST_RATIO, stop or threading.Event()),
                                progress=lambda _status: alive())
    with uow.read() as session:
        crl_until = crl_next_update(session)
        ending = seals_ending(session, now)
        names = catalog_names(ctx.catalog)
        renamed = seals_named_otherwise(session, names)
    if crl_until is not None and crl_until - now < CRL_WARNING:
        log.warning("jobs: the CRL expires at %s: run `mianzheng seal crl` (its daily timer has not run); after "
                    "that every verification is undecided", crl_until.isoformat())
    for department, ends in ending.items():
        if ends <= now:
            log.warning("jobs: the seal of %s ended at %s: %s signs nothing (no certificate, license or receipt) "
                        "until `mianzheng seal issue %s`", department, ends.isoformat(), department, department)
        else:
            log.warning("jobs: the seal of %s ends at %s: run `mianzheng seal rotate %s` before; after that %s "
                        "signs nothing (no certificate, license or receipt)", department, ends.isoformat(),
                        department, department)
    for department, (name, uscc) in sorted(renamed.items()):
        log.warning("jobs: the seal of %s names it %s (%s), the catalog %s (%s): run `mianzheng seal rotate %s` "
                    "(a PDF reader shows the seal's name on what it signs)", department, name, uscc,
                    *names[department], department)
    beat_now()
    return SweepReport(resumed=len(resumed), checks=checks, status_list_signed=signed, answers_purged=purged)


def _beat(uow: UnitOfWork, holder: str, interval: float) -> None:
    """The jobs' heartbeat, now: after a pass, and after each application a pass resumes."""
    with uow.step("heartbeat") as session:
        beat(session, JOBS_NAME, holder, interval, datetime.now(timezone.utc))


def run_jobs(settings: Settings, interval: float, stop: threading.Event | None = None,
             current: Runtime | None = None, alive: Callable[[], None] = lambda: None) -> None:
    """Sweep every `interval` seconds until `stop` is set (or SIGTERM/SIGINT arrives), on `current`
    (default: a runtime of its own for `settings`); `alive` is called at the start of each pass
    and with each heartbeat, a failed pass's included (the supervisor's watch, `api.jobs_supervisor`)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    current = current or Runtime.start(settings)
    holder = new_holder()
    try:
        while not stop.is_set():
            alive()
            report: SweepReport | None = None
            try:
                report = sweep(current, holder, interval, stop, alive)
                if report.resumed or report.checks.confirmed or report.checks.false or report.checks.on_site:
                    log.info("jobs: resumed %d applications; commitments confirmed %d, false %d, on site %d, "
                             "left for the next pass %d", report.resumed, report.checks.confirmed,
                             report.checks.false, report.checks.on_site, report.checks.deferred)
            except NoCatalogPublished:
                log.warning("jobs: no catalog published yet")
            except Exception:  # one failed pass must not end the jobs; the next pass retries
                log.exception("jobs: a pass failed")
            stop.wait(0 if report is not None and report.checks.deferred else interval)
    finally:
        current.engine.dispose()
