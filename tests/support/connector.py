"""A source department's reference connector run as a separate process over real HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cli import MIANZHENG, wait_until_answering


class Connector:
    """`mianzheng connector serve <DEPT>` on a fixed port, which can be stopped and restarted."""

    def __init__(self, department: str, database: Path, token_file: Path, port: int) -> None:
        self.command = [MIANZHENG, "connector", "serve", department, "--port", str(port), "--workers", "1",
                        "--token-file", str(token_file), "--database", str(database)]
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_until_answering(f"{self.url}/healthz", self.process, "the connector")

    def stop(self) -> str:
        assert self.process is not None
        self.process.terminate()
        output, _ = self.process.communicate(timeout=30)
        self.process = None
        return output
