"""Running the `mianzheng` command, as an operator would, against a test database.

`run_cli` runs it in this process through click's test runner (the same `main`, its exit
codes and its stdout and stderr, without starting an interpreter); `run_cli_process` runs the
installed command in a process of its own, for tests where the process is the point (signals,
servers, start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from click.testing import CliRunner

from api.cli import main

MIANZHENG = str(Path(sys.executable).with_name("mianzheng"))


@dataclass(frozen=True)
class CliResult:
    """What the command left: its exit code and what it wrote to stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


def cli_environment(database_url: str, var_dir: Path) -> dict[str, str]:
    return {**os.environ, "MIANZHENG_DATABASE_URL": database_url, "MIANZHENG_VAR_DIR": str(var_dir)}


def run_cli(env: dict[str, str], *args: str) -> CliResult:
    """`mianzheng ARGS` in this process, with the environment `env` while it runs."""
    changes: dict[str, str | None] = {name: value for name, value in env.items() if os.environ.get(name) != value}
    changes.update({name: None for name in os.environ if name not in env})
    with CliRunner().isolation(env=changes) as (stdout, stderr, _output):
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        return CliResult(code, stdout.getvalue().decode("utf-8"), stderr.getvalue().decode("utf-8"))


def run_cli_process(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`mianzheng ARGS` as a process of its own, with `stdin` as its standard input (a pipe)."""
    return subprocess.run([MIANZHENG, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)


def wait_until_answering(url: str, process: subprocess.Popen[str], what: str, timeout: float = 30) -> None:
    """Poll `url` until it answers 200, failing if `process` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, f"{what} did not start"
        time.sleep(0.1)
