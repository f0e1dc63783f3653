"""The scheduled jobs of matter handling, run every `interval` seconds next to the server:
resume the applications a down source or a dead process left waiting, and run 事后核查 on the
commitments whose check is due. `mianzheng serve` starts them in a process of their own
(`start_job_process`); `mianzheng jobs run` runs them alone, e.g. under a system timer."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from api.application_services import build_handling_context
from api.runtime import Runtime
from api.settings import Settings
from catalog.errors import NoCatalogPublished
from exchange.applications.post_check import CheckReport, verify_commitments
from exchange.applications.service import resume_due

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class SweepReport:
    resumed: int
    checks: CheckReport


def sweep(current: Runtime) -> SweepReport:
    """One pass of both jobs against the live catalog."""
    ctx = build_handling_context(current, *current.published_catalog())
    resumed = resume_due(ctx)
    return SweepReport(resumed=len(resumed), checks=verify_commitments(ctx))


def run_jobs(settings: Settings, interval: float, stop: threading.Event | None = None) -> None:
    """Sweep every `interval` seconds until `stop` is set (or SIGTERM/SIGINT arrives)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    current = Runtime.start(settings)
    try:
        while not stop.is_set():
            try:
                report = sweep(current)
                if report.resumed or report.checks.confirmed or report.checks.false or report.checks.on_site:
                    log.info("jobs: resumed %d applications; commitments confirmed %d, false %d, on site %d",
                             report.resumed, report.checks.confirmed, report.checks.false, report.checks.on_site)
            except NoCatalogPublished:
                log.warning("jobs: no catalog published yet")
            except Exception:  # one failed pass must not end the jobs; the next pass retries
                log.exception("jobs: a pass failed")
            stop.wait(interval)
    finally:
        current.engine.dispose()


def start_job_process(interval: float) -> BaseProcess:
    """The jobs in a separate process, spawned (so it shares no connection or lock with the server)
    with this process's environment, from which it reads its settings."""
    process = multiprocessing.get_context("spawn").Process(target=_run_from_environment, args=(interval,),
                                                           name="mianzheng-jobs", daemon=True)
    process.start()
    return process


def _run_from_environment(interval: float) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_jobs(Settings.from_environment(), interval)
