"""Supervision of the jobs process that `mianzheng serve` runs next to gunicorn.

The supervisor lives in gunicorn's arbiter only: it is started by the arbiter's `when_ready` hook
and stopped by its `on_exit` hook, so a worker that exits (a timeout, a TERM, a crash) never touches
it. The jobs run as a plain child process (`python -m api.jobs`) in a session of its own, so a
Ctrl+C in the terminal reaches gunicorn alone and the supervisor ends the jobs with SIGTERM. A
watcher thread restarts the process whenever it dies, waiting 1 s, then twice as long after each
quick death (at most `MAX_BACKOFF_SECONDS`).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0
STEADY_AFTER_SECONDS = 60.0
"""A process that ran this long counts as healthy: the next restart waits 1 s again."""
_POLL_SECONDS = 0.5
_STOP_WAIT_SECONDS = 10.0


class JobsSupervisor:
    """Runs `python -m api.jobs --interval N` and keeps it running until `stop()`."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="mianzheng-jobs-supervisor", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop watching, then end the jobs process (SIGTERM, SIGKILL after 10 s)."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _spawn(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "api.jobs", "--interval", str(self.interval)],
                                         start_new_session=True)
        self._started_at = time.monotonic()

    def _watch(self) -> None:
        backoff = 1.0
        while not self._stopping.wait(_POLL_SECONDS):
            assert self._process is not None
            if self._process.poll() is None:
                continue
            # no exit code in the message: gunicorn's arbiter reaps every child, ours too, so it is lost
            if time.monotonic() - self._started_at >= STEADY_AFTER_SECONDS:
                backoff = 1.0
            log.warning("定时任务进程已退出，%.0f 秒后重新启动。", backoff)
            if self._stopping.wait(backoff):
                return
            self._spawn()
            self.restarts += 1
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
