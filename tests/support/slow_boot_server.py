"""`api.server.serve` with workers that take 5 s to start, as on a loaded machine:
`python -m tests.support.slow_boot_server PORT [late-hook]` (for the tests of a stop asked while
workers start). With `late-hook`, each worker also waits 2 s between its fork and the post-fork
hook that takes over the stop signals: a stop that comes then reaches the arbiter's handlers, which
the worker still has."""

from __future__ import annotations

import sys
import time
from typing import Any

from flask import Flask

import api.server
from api.gunicorn_worker import ProblemWorker

BOOT_SECONDS = 5.0
LATE_HOOK_SECONDS = 2.0
_init_process = ProblemWorker.init_process
_stop_while_starting = api.server._stop_while_starting


def _slow_init_process(self: ProblemWorker) -> None:
    time.sleep(BOOT_SECONDS)
    _init_process(self)


def _late_stop_while_starting(arbiter: Any) -> None:
    time.sleep(LATE_HOOK_SECONDS)
    _stop_while_starting(arbiter)


if __name__ == "__main__":
    ProblemWorker.init_process = _slow_init_process  # type: ignore[method-assign]
    if sys.argv[2:] == ["late-hook"]:
        api.server._stop_while_starting = _late_stop_while_starting
    api.server.serve("127.0.0.1", int(sys.argv[1]), 2, app_factory=lambda: Flask(__name__),
                     ready_message=lambda base: base)
