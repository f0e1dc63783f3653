"""Running the real `mianzheng` command, as an operator would, against a test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MIANZHENG = str(Path(sys.executable).with_name("mianzheng"))


def cli_environment(database_url: str, var_dir: Path) -> dict[str, str]:
    return {**os.environ, "MIANZHENG_DATABASE_URL": database_url, "MIANZHENG_VAR_DIR": str(var_dir)}


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MIANZHENG, *args], env=env, capture_output=True, text=True, timeout=120)
