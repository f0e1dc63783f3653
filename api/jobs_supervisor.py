"""Supervision of the jobs process that `mianzheng serve` runs next to gunicorn.

The supervisor lives in gunicorn's arbiter only: it is started by the arbiter's `when_ready` hook
and stopped by its `on_exit` hook, so a worker that exits (a timeout, a TERM, a crash) never touches
it. The jobs process is forked from the arbiter, like the workers: it shares the program the
arbiter loaded (copy-on-write) instead of starting and loading an interpreter of its own. Right
after the fork it leaves gunicorn behind: a session of its own (a Ctrl+C in the terminal reaches
gunicorn alone, and the supervisor ends the jobs with SIGTERM), the default signal handlers,
none of the server's listening sockets, and the name `mianzheng-jobs` (`ps -o comm`, `top`).

The arbiter's main loop calls `tend` about once a second (`api.server`): when the jobs process has
died, `tend` starts another, 1 s later, then twice as long after each quick death (at most
`MAX_BACKOFF_SECONDS`). A jobs process that hangs rather than dies (a call that never returns, a
`kill -STOP`) is killed and so started again: the process notes the time in memory it shares
with the arbiter at the start of each pass, with each heartbeat, each round of an application's
resolution and each 事后核查 check, and `tend` kills it once that time is `STALL_INTERVALS`
intervals old (at least `MIN_STALL_SECONDS`). Restarts fork from that main loop, never from a
thread: a fork taken while another thread of the arbiter held a lock (a log handler's, stdout's)
would leave the child waiting for that lock forever.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import signal
import time
from collections.abc import Sequence
from typing import Protocol

from api.jobs import run_jobs
from api.runtime import Runtime
from exchange.sources.directory import MAX_QUERY_SECONDS

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 30.0
STEADY_AFTER_SECONDS = 60.0
"""A process that ran this long counts as healthy: the next restart waits 1 s again."""
STALL_INTERVALS = 10
MIN_STALL_SECONDS = MAX_QUERY_SECONDS + 30.0
"""Even at the shortest intervals: a pass says it is alive before each round of an application's
resolution and after each 事后核查 check, each of which asks sources for at most the longest budget
a source may be given (`MAX_QUERY_SECONDS`), so a source answering slowly within its budget does
not make the process look hung."""
PROCESS_NAME = "mianzheng-jobs"
_POLL_SECONDS = 0.5
_STOP_WAIT_SECONDS = 10.0


class Closable(Protocol):
    def close(self) -> None: ...


class Liveness:
    """When the jobs process last said it was alive (`time.monotonic()`, one clock for every
    process): a double in an anonymous shared mapping, which the arbiter and the process it forks
    both keep, written and read in one store."""

    def __init__(self) -> None:
        self._shared = mmap.mmap(-1, ctypes.sizeof(ctypes.c_double))
        self._said_at = ctypes.c_double.from_buffer(self._shared)
        self.touch()

    def touch(self) -> None:
        self._said_at.value = time.monotonic()

    def silent_for(self) -> float:
        return time.monotonic() - self._said_at.value


class JobsSupervisor:
    """Runs `api.jobs.run_jobs` every `interval` seconds in a forked process and keeps it running
    until `stop()`."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stall_seconds = max(STALL_INTERVALS * interval, MIN_STALL_SECONDS)
        self.restarts = 0
        self._liveness = Liveness()
        self._pid: int | None = None
        self._inherited: Sequence[Closable] = ()
        self._runtime: Runtime | None = None
        self._started_at = 0.0
        self._backoff = 1.0
        self._restart_at: float | None = None
        self._stopped = False

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self, runtime: Runtime, inherited: Sequence[Closable] = ()) -> None:
        """Fork the jobs process; it runs on `runtime` (the app's: what the arbiter parsed is
        shared) with an engine of its own, and closes its copies of `inherited` (the server's
        listening sockets)."""
        self._runtime = runtime
        self._inherited = inherited
        self._spawn()

    def tend(self) -> None:
        """Start the jobs process again if it has died and its back-off has passed (from the
        arbiter's main loop, about once a second)."""
        if self._stopped or self._pid is None:
            return
        now = time.monotonic()
        if self._restart_at is None:
            if self._running():
                self._end_if_stalled()
                return
            # no exit code in the message: gunicorn's arbiter may have reaped the process first
            if now - self._started_at >= STEADY_AFTER_SECONDS:
                self._backoff = 1.0
            log.warning("定时任务进程已退出，%.0f 秒后重新启动。", self._backoff)
            self._restart_at = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
        if now >= self._restart_at:
            self._restart_at = None
            self._spawn()
            self.restarts += 1

    def _end_if_stalled(self) -> None:
        """Kill the jobs process when it has said nothing for `stall_seconds`: the next `tend`
        finds it dead and starts another (an application it held is taken over when its lease
        ends; what it had not committed is lost, nothing else)."""
        silent = self._liveness.silent_for()
        if silent >= self.stall_seconds:
            assert self._pid is not None
            log.error("定时任务进程已 %.0f 秒无响应，强制结束（SIGKILL）后重新启动。", silent)
            os.kill(self._pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop restarting, then end the jobs process (SIGTERM, SIGKILL after 10 s)."""
        self._stopped = True
        if self._pid is None or not self._running():
            return
        os.kill(self._pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_WAIT_SECONDS
        while self._running():
            if time.monotonic() > deadline:
                os.kill(self._pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.05)

    def _running(self) -> bool:
        """Whether the jobs process is alive; reaps it when it ended (gunicorn's arbiter reaps
        every child it sees end, so one it reaped first counts as ended too)."""
        assert self._pid is not None
        try:
            pid, _status = os.waitpid(self._pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def _spawn(self) -> None:
        arbiter = os.getpid()
        self._liveness.touch()
        pid = os.fork()
        if pid == 0:
            assert self._runtime is not None
            _run_forked(self._runtime, self.interval, self._inherited, arbiter, self._liveness)  # never returns
        self._pid = pid
        self._started_at = time.monotonic()


def _run_forked(runtime: Runtime, interval: float, inherited: Sequence[Closable], arbiter: int,
                liveness: Liveness) -> None:
    """The jobs process, right after the fork: leave gunicorn's arbiter behind, run the jobs until
    SIGTERM, and exit without returning into the arbiter's code."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in range(1, signal.NSIG):  # first: the arbiter's handlers would only queue a SIGTERM
            if signal.getsignal(signum) not in (None, signal.SIG_DFL, signal.SIG_IGN):
                signal.signal(signum, signal.SIG_DFL)
        if not ends_with(arbiter):
            code = 0
            return  # the arbiter is gone already
        os.setsid()
        for each in inherited:
            each.close()
        _name_process(PROCESS_NAME)
        current = runtime.forked()
        run_jobs(current.settings, interval, current=current, alive=liveness.touch)
        code = 0
    except BaseException:
        log.exception("jobs: the process failed")
    finally:
        logging.shutdown()
        os._exit(code)


def ends_with(arbiter: int) -> bool:
    """Have the kernel send this process, forked from the arbiter, SIGTERM when the arbiter dies,
    however it dies (Linux's `PR_SET_PDEATHSIG`): a jobs process left running after a `kill -9` of
    the server would sweep next to the jobs of the next server, and workers left serving would
    hold its port. False when the arbiter is gone already."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the process outlives a killed arbiter, as any orphan would
    return os.getppid() == arbiter


_PR_SET_PDEATHSIG = 1


def _name_process(name: str) -> None:
    """The process's name as `ps -o comm` and `top` show it (Linux; elsewhere it keeps the arbiter's)."""
    try:
        with open("/proc/self/comm", "w", encoding="ascii") as comm:
            comm.write(name)
    except OSError:
        pass
