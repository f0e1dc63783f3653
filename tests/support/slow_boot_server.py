"""`api.server.serve` with workers that take 5 s to start, as on a loaded machine:
`python -m tests.support.slow_boot_server PORT` (for the test of a stop asked while workers start)."""

from __future__ import annotations

import sys
import time

from flask import Flask

from api.gunicorn_worker import ProblemWorker
from api.server import serve

BOOT_SECONDS = 5.0
_init_process = ProblemWorker.init_process


def _slow_init_process(self: ProblemWorker) -> None:
    time.sleep(BOOT_SECONDS)
    _init_process(self)


if __name__ == "__main__":
    ProblemWorker.init_process = _slow_init_process  # type: ignore[method-assign]
    serve("127.0.0.1", int(sys.argv[1]), 2, app_factory=lambda: Flask(__name__), ready_message=lambda base: base)
