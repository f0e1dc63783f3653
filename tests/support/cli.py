"""Running the real `mianzheng` command, as an operator would, against a test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

MIANZHENG = str(Path(sys.executable).with_name("mianzheng"))


def cli_environment(database_url: str, var_dir: Path) -> dict[str, str]:
    return {**os.environ, "MIANZHENG_DATABASE_URL": database_url, "MIANZHENG_VAR_DIR": str(var_dir)}


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIANZHENG, *args], env=env, capture_output=True, text=True, timeout=120)


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
