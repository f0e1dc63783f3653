"""A one-route app that takes longer than the worker timeout, served by gunicorn with mianzheng's
worker class: `python -m tests.support.slow_app PORT` (for the worker-timeout test)."""

from __future__ import annotations

import sys
import time
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from api.gunicorn_worker import WORKER_CLASS

app = Flask(__name__)


@app.get("/slow")
def slow() -> str:
    time.sleep(60)
    return "never"


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {"bind": f"127.0.0.1:{self.port}", "workers": 1, "timeout": 1,
                                   "worker_class": WORKER_CLASS, "control_socket_disable": True}
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return app


if __name__ == "__main__":
    _Gunicorn(int(sys.argv[1])).run()
