"""Serving the app with gunicorn, the production WSGI server, from inside the CLI.

The app is built once in gunicorn's arbiter before it forks the workers and the jobs process, so
they share its pages copy-on-write. Python's collector would write to every object it scans and
so copy those pages into each process: it stays off while the app is built, and the objects
alive at the first fork are frozen (`gc.freeze`), out of its reach, in every process that forks.
A worker asked to stop while it is still starting (a loaded machine, a Ctrl+C right after the
start) ends at once instead of holding the arbiter's shutdown for its graceful timeout.
"""

from __future__ import annotations

import gc
import os
import queue
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from api.app import create_app
from api.gunicorn_worker import LOGGER_CLASS, WORKER_CLASS
from api.jobs_supervisor import JobsSupervisor, ends_with
from api.metrics import worker_exited
from api.runtime import Runtime
from catalog.errors import NoCatalogPublished
from exchange.sources.contract import pulled_proofs
from exchange.sources.directory import source_departments
from exchange.sources.records import department_database


class _Arbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's arbiter, tending the companion (the jobs' supervisor) from its main loop."""

    companion: JobsSupervisor | None = None

    def manage_workers(self) -> None:
        super().manage_workers()
        if self.companion is not None:
            self.companion.tend()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], app_factory: Callable[[], Flask],
                 companion: JobsSupervisor | None = None) -> None:
        self.options = options
        self.app_factory = app_factory
        self.companion = companion
        super().__init__()

    def run(self) -> None:
        """gunicorn's `BaseApplication.run`, with our arbiter."""
        arbiter = _Arbiter(self)
        arbiter.companion = self.companion
        try:
            arbiter.run()
        except RuntimeError as error:
            sys.exit(f"\nError: {error}\n")

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        self.loaded = self.app_factory()
        current = self.loaded.extensions.get("mianzheng")
        if isinstance(current, Runtime):
            current.warm()
        return self.loaded


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def _exit_at_once(_signum: int, _frame: Any) -> NoReturn:
    sys.exit(0)


def _stop_while_starting(arbiter: Any) -> None:
    """In a worker right after the fork: a stop signal ends it at once until gunicorn's worker takes
    its own handlers, at the end of its start. The arbiter's handlers it inherited would only put
    the signal on the worker's copy of the arbiter's queue, which nobody reads, and the arbiter
    would wait out its graceful timeout (30 s) for a worker that never heard it. A stop signal
    that came between the fork and this hook is on that copy already."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _exit_at_once)
    take_queued = getattr(getattr(arbiter, "SIG_QUEUE", None), "get_nowait", None)  # a `queue.SimpleQueue`
    while take_queued is not None:
        try:
            pending = take_queued()
        except queue.Empty:
            return
        if pending in _STOP_SIGNALS:
            sys.exit(0)


def _exchange_ready_message(base: str) -> str:
    return (
        f"免证服务已启动：{base}/\n"
        f"  市民服务（开具电子证明、我的授权）：{base}/portal\n"
        f"  电子证明核验：{base}/verify\n"
        f"  清单公开（证明事项目录）：{base}/catalog\n"
        f"  办件工作台：{base}/caseworker\n"
        f"  统计（少交的纸质证明）：{base}/statistics\n"
        f"  API 文档：{base}/api/v1/docs\n"
        f"  OpenAPI：{base}/api/v1/openapi.json"
    )


def _sources_missing(current: Runtime) -> list[str]:
    """A warning when the embedded sources (no MIANZHENG_SOURCES_FILE) lack a source department's
    database: every pull from it would be a 503 while /readyz says ready. The live catalog is the
    one the arbiter parsed already (`Runtime.warm`)."""
    if current.settings.sources_file is not None:
        return []
    try:
        catalog, _ = current.published_catalog()
    except NoCatalogPublished:
        return []
    pulled = {proof.department for proof in pulled_proofs(catalog)}  # not those handled by commitment alone
    lacking = [code for code in source_departments(catalog)
               if code in pulled and not department_database(current.settings.sources_dir, code).exists()]
    return [f"警告：未设置 MIANZHENG_SOURCES_FILE，{current.settings.sources_dir} 中也没有数据源部门 {'、'.join(lacking)} "
            "的数据库：向这些部门的调取都将答复 503（数据源部门暂时无法访问）。生产环境请用数据来源配置文件连接各部门"
            "（见 docs/connectors.md）。"] if lacking else []


def serve(
    host: str,
    port: int,
    workers: int,
    app_factory: Callable[[], Flask] = create_app,
    ready_message: Callable[[str], str] = _exchange_ready_message,
    companion: JobsSupervisor | None = None,
) -> None:
    """Serve until interrupted; the app (and its database engine) is built once with `app_factory`
    (default: the exchange app) before the workers are forked. `companion` (the jobs' supervisor) is started and
    stopped by gunicorn's arbiter, never by a worker."""
    base = f"http://{host}:{port}"
    gc.disable()

    def when_ready(server: Any) -> None:
        gc.freeze()  # what the arbiter holds now: the program and the app, shared by every fork
        gc.enable()
        current = gunicorn.loaded.extensions.get("mianzheng")
        if companion is not None and isinstance(current, Runtime):
            companion.start(current, inherited=server.LISTENERS)
        if isinstance(current, Runtime):
            for warning in _sources_missing(current):
                print(warning, file=sys.stderr, flush=True)
        print(f"{ready_message(base)}\n按 Ctrl+C 停止。", flush=True)

    def post_fork(server: Any, _worker: Any) -> None:
        if not ends_with(server.pid):  # killed outright meanwhile: the port must come free for a restart
            os._exit(0)
        _stop_while_starting(server)
        current = gunicorn.loaded.extensions.get("mianzheng")
        if isinstance(current, Runtime):  # a pool the arbiter had is not this worker's
            current.engine.dispose(close=False)

    def child_exit(_server: Any, worker: Any) -> None:
        worker_exited(worker.pid)

    def on_exit(_server: Any) -> None:
        if companion is not None:
            companion.stop()

    gunicorn = _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "when_ready": when_ready,
            "on_exit": on_exit,
            "child_exit": child_exit,
            "post_fork": post_fork,
            "accesslog": "-",
            # when, from whom, what, answered how and how fast; no query strings: they may carry personal data
            "access_log_format": '%(t)s %(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
            "logger_class": LOGGER_CLASS,  # and an ID number in a path masked
            "timeout": 60,  # above a source query's longest budget (exchange.sources.directory.MAX_QUERY_SECONDS)
            "worker_class": WORKER_CLASS,  # gunicorn's own errors as problem documents
            "control_socket_disable": True,  # one fixed path per user: the exchange and connectors would collide
            # the app is built once, before the fork: a worker starts at once and shares those pages;
            # building it opens no database connection, so no pooled connection crosses the fork
            "preload_app": True,
        },
        app_factory,
        companion,
    )
    gunicorn.run()
