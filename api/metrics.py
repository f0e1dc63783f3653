"""Operators' metrics in the Prometheus text format at `GET /metrics`.

- `mianzheng_http_requests_total{method,route,status}` and
  `mianzheng_http_request_duration_seconds{method,route}`: per route template (`/api/v1/certificates/<serial>`),
  never the raw path, which may carry an identifier; a method outside HTTP's usual seven is `other`;
- `mianzheng_source_pulls_total{department,outcome}`: every query to a source department and how it ended;
- `mianzheng_source_breaker_state{department}`: 0 closed, 1 half-open, 2 open, as of the last pull (worst
  across the live workers);
- `mianzheng_jobs_heartbeat_age_seconds`: seconds since the jobs last finished a pass (absent until they have);
- `mianzheng_crl_seconds_left`: seconds until the CRL's nextUpdate (negative once expired): only the
  seal officer's daily `mianzheng seal crl` renews it;
- `mianzheng_seal_seconds_left{department}`: seconds until each department's seal ends (negative once it
  has lapsed, or since it was revoked with none in its place): `mianzheng seal rotate` before, or
  the department signs nothing;
- `mianzheng_queue_depth{queue}`: applications resolving or waiting, pulls waiting for a source, open
  investigation tasks, pending commitment checks — counted in the database at each scrape.

No label carries personal data. Under gunicorn every worker writes its figures to files in a folder
(`var/metrics`, prometheus_client's multiprocess mode) and a scrape sums them; elsewhere (tests, a
single process) they live in the process. prometheus_client chooses between the two when it is first
imported, so it is imported only once the app is built (`install_metrics`). A command that pulls
(年度复核, a counter issuance, a jobs process of its own) writes its pulls into that same folder
while a server serves from the same var/ (`command_runtime`), so they are scraped too.

The endpoint answers only clients on the loopback interface (a local scraper or agent): queue
depths and breaker states are operational details, not public information. A reverse proxy in
front of the service must not forward `/metrics`.
"""

from __future__ import annotations

import atexit
import fcntl
import ipaddress
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import func, select

from api.problems import Problem
from api.runtime import Runtime, runtime
from api.settings import Settings
from exchange.applications.investigation import OPEN
from exchange.applications.records import (ApplicationItem, ApplicationStatus, Application, CommitmentRecord,
                                           CommitmentStatus, InvestigationTask, ItemState)
from exchange.job_heartbeats import JOBS_NAME, JobHeartbeat
from seals.registry import crl_next_update, seal_ends
from exchange.sources.breaker import BreakerState
from exchange.sources.contract import Source

LOG = logging.getLogger(__name__)
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
METRICS_FOLDER = "metrics"
"""Under var/: the serving server's metric files; its `.server` file is locked while it serves."""
_SERVER_CLAIM = ".server"
BREAKER_CODES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
_UNMATCHED = "<unmatched>"
"""The route label of a request no route matched (a 404): its path is not recorded."""


@contextmanager
def multiprocess_metrics(var_dir: Path) -> Iterator[None]:
    """For `mianzheng serve`: the folder for the workers' metric files, named in the environment
    (the workers and the jobs process inherit it) before prometheus_client is first imported, and
    emptied before and after. It is `var/metrics`, claimed by a lock while the server runs, so the
    commands run beside it find it; a second server on the same var/ gets a temporary folder of
    its own. A forked worker leaving (scaled down, recycled) unwinds this same block on its way
    out: it must leave the folder to the workers that stay."""
    shared = var_dir / METRICS_FOLDER
    shared.mkdir(mode=0o700, exist_ok=True)
    claim = (shared / _SERVER_CLAIM).open("a")
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder = shared
    except BlockingIOError:
        claim.close()
        folder = Path(tempfile.mkdtemp(prefix="mianzheng-metrics-"))
    _empty(folder)
    owner = os.getpid()
    os.environ[MULTIPROCESS_VARIABLE] = str(folder)
    try:
        yield
    finally:
        if os.getpid() == owner:
            os.environ.pop(MULTIPROCESS_VARIABLE, None)
            if folder == shared:
                _empty(folder)
                claim.close()
            else:
                shutil.rmtree(folder, ignore_errors=True)


def _empty(folder: Path) -> None:
    """Drop the figures a server's processes left (a server killed without cleaning up)."""
    for figures in folder.glob("*.db"):
        figures.unlink(missing_ok=True)


def command_runtime(settings: Settings) -> Runtime:
    """A command's runtime. While a server serves from the same var/ on this machine, the
    command's pulls and breaker states are written to the server's metric folder, so its
    `/metrics` counts them (the command's breaker state only while the command runs)."""
    current = Runtime.start(settings)
    shared = settings.var_dir / METRICS_FOLDER
    if "prometheus_client" in sys.modules or not _serving(shared / _SERVER_CLAIM):
        return current  # no server to count them, or this process already counts in its own registry
    os.environ[MULTIPROCESS_VARIABLE] = str(shared)
    import prometheus_client  # noqa: F401  (in multiprocess mode, now)
    _reserve_figure_files()
    current.pull_observer = record_pull
    atexit.register(worker_exited, os.getpid())
    return current


def _serving(claim: Path) -> bool:
    """Whether a server holds its claim on the metric folder."""
    try:
        with claim.open("r") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except FileNotFoundError:
        return False


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: the dead worker's live gauges no longer count."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _reserve_figure_files() -> None:
    """Make prometheus_client's multiprocess files reserve their disk blocks. It writes a process's
    figures through a memory map of a file it creates sparse (64 KiB, no block allocated) and
    doubles when full; on a full disk, the first write to a page without a block kills the process
    with SIGBUS, so a full var/ took every worker down, /healthz too. Each file now reserves the
    blocks of all it maps (`posix_fallocate`) before mapping them: a full disk is an OSError then,
    which costs a figure (`_counted`), not the process."""
    from prometheus_client import values
    from prometheus_client.mmap_dict import _INITIAL_MMAP_SIZE, MmapedDict

    class ReservedMmapedDict(MmapedDict):  # type: ignore[misc]
        def __init__(self, filename: str, read_mode: bool = False) -> None:
            if not read_mode:
                made = not os.path.exists(filename)
                with open(filename, "a+b") as file:
                    try:
                        os.posix_fallocate(file.fileno(), 0, max(os.fstat(file.fileno()).st_size, _INITIAL_MMAP_SIZE))
                    except OSError:
                        if made:  # left empty, it would fail every scrape that reads the folder
                            os.unlink(filename)
                        raise
            super().__init__(filename, read_mode)

        def _init_value(self, key: str) -> None:
            needed = self._used + len(key.encode("utf-8")) + 32  # the entry and its padding, at most
            capacity = self._capacity
            while needed > capacity:
                capacity *= 2
            if capacity > self._capacity:
                os.posix_fallocate(self._f.fileno(), 0, capacity)
            super()._init_value(key)

    values.MmapedDict = ReservedMmapedDict


def install_metrics(app: Flask) -> None:
    """Time and count every request of `app` and its pulls, and serve `GET /metrics`. The client
    library is loaded now, with the app: under gunicorn in the arbiter, so the workers share it;
    each process creates its own instruments on first use."""
    import prometheus_client  # noqa: F401
    _reserve_figure_files()
    app.extensions["mianzheng"].pull_observer = record_pull
    app.before_request(_start_timer)
    app.after_request(_record_request)
    app.add_url_rule("/metrics", "metrics", _metrics)


def record_pull(department: str, outcome: str, source: Source) -> None:
    """A source department's query ended with `outcome`; its breaker's state as it stands now."""
    with _counted():
        instruments = _instruments()
        instruments["pulls"].labels(department, outcome).inc()
        breaker = getattr(source, "breaker", None)
        if breaker is not None:
            instruments["breaker"].labels(department).set(BREAKER_CODES[breaker.state])


_LOST_SAID = threading.Event()


@contextmanager
def _counted() -> Iterator[None]:
    """A figure recorded, or lost when its file cannot grow (a full disk: `_reserve_figure_files`),
    said once per process: the request or the pull it counts goes on."""
    try:
        yield
    except OSError as unwritable:
        if not _LOST_SAID.is_set():
            _LOST_SAID.set()
            LOG.warning("metrics are not recorded while their files cannot grow (%s); requests go on", unwritable)


_CREATING = threading.Lock()


def _instruments() -> dict[str, Any]:
    """The process's instruments, created by the first caller: the pulls of one application run
    in parallel threads, and a second registration of a name is an error."""
    with _CREATING:
        return _created_instruments()


@cache
def _created_instruments() -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    return {
        "requests": Counter("mianzheng_http_requests", "HTTP requests answered", ["method", "route", "status"]),
        "latency": Histogram("mianzheng_http_request_duration_seconds", "Time to answer an HTTP request",
                             ["method", "route"],
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)),
        "pulls": Counter("mianzheng_source_pulls", "Queries to source departments", ["department", "outcome"]),
        "breaker": Gauge("mianzheng_source_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open",
                         ["department"], multiprocess_mode="livemax"),
    }


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods counted by name; any other a client sends is `other`, so no client adds series."""


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _record_request(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else _UNMATCHED
        method = request.method if request.method in _METHODS else "other"
        with _counted():
            instruments = _instruments()
            instruments["requests"].labels(method, route, str(response.status_code)).inc()
            instruments["latency"].labels(method, route).observe(time.perf_counter() - started)
    return response


def _metrics() -> Response:
    if not _from_loopback(request.remote_addr):
        raise Problem("not-found", "The requested URL was not found on the server.")
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.multiprocess import MultiProcessCollector

    _instruments()
    figures = _database_figures()

    class _DatabaseCollector:
        def collect(self) -> Iterator[GaugeMetricFamily]:
            queues = GaugeMetricFamily("mianzheng_queue_depth", "Work waiting, counted in the database", labels=["queue"])
            for queue, depth in figures["queues"].items():
                queues.add_metric([queue], depth)
            yield queues
            if figures["crl_seconds_left"] is not None:
                yield GaugeMetricFamily("mianzheng_crl_seconds_left", "Seconds until the CRL's nextUpdate (negative: "
                                        "expired; `mianzheng seal crl` renews it)", value=figures["crl_seconds_left"])
            seals = GaugeMetricFamily("mianzheng_seal_seconds_left", "Seconds until the department's seal ends "
                                      "(negative: lapsed, or revoked and not replaced; "
                                      "`mianzheng seal rotate` renews it, `seal issue` replaces it)", labels=["department"])
            for department, left in figures["seal_seconds_left"].items():
                seals.add_metric([department], left)
            yield seals
            if figures["heartbeat_age"] is not None:
                yield GaugeMetricFamily("mianzheng_jobs_heartbeat_age_seconds",
                                        "Seconds since the jobs last finished a pass", value=figures["heartbeat_age"])

    scrape = CollectorRegistry()
    scrape.register(_DatabaseCollector())
    if os.environ.get(MULTIPROCESS_VARIABLE):
        MultiProcessCollector(scrape)
        body = generate_latest(scrape)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY) + generate_latest(scrape)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def _database_figures() -> dict[str, Any]:
    with runtime().sessions() as session:
        statuses = dict(session.execute(
            select(Application.status, func.count()).where(
                Application.status.in_([ApplicationStatus.RESOLVING, ApplicationStatus.WAITING]))
            .group_by(Application.status)).all())
        queues = {
            "applications_resolving": statuses.get(ApplicationStatus.RESOLVING.value, 0),
            "applications_waiting": statuses.get(ApplicationStatus.WAITING.value, 0),
            "pulls_waiting": session.scalar(select(func.count()).select_from(ApplicationItem)
                                            .where(ApplicationItem.state == ItemState.WAITING)) or 0,
            "investigation_tasks_open": session.scalar(select(func.count()).select_from(InvestigationTask)
                                                       .where(InvestigationTask.status == OPEN)) or 0,
            "commitments_pending": session.scalar(select(func.count()).select_from(CommitmentRecord)
                                                  .where(CommitmentRecord.status == CommitmentStatus.PENDING)) or 0,
        }
        beat_at = session.scalar(select(JobHeartbeat.beat_at).where(JobHeartbeat.name == JOBS_NAME))
        crl_until = crl_next_update(session)
        seals_until = seal_ends(session)
    now = datetime.now(timezone.utc)
    return {"queues": queues, "heartbeat_age": (now - beat_at).total_seconds() if beat_at is not None else None,
            "crl_seconds_left": (crl_until - now).total_seconds() if crl_until is not None else None,
            "seal_seconds_left": {code: (ends - now).total_seconds() for code, ends in sorted(seals_until.items())}}


def _from_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
