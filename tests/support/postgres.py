"""A throwaway PostgreSQL cluster in a temporary folder, for the suite.

PostgreSQL refuses to run as root, so when the suite runs as root the cluster is created and
started as the `postgres` system user. Connections go over TCP on 127.0.0.1 with trust auth;
one cluster serves every process of a test run (`save` and `load` tell them where it is), and
it is stopped and its folder removed when the run ends.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_postgres_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresCluster:
    bin_dir: Path
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def database_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    @classmethod
    def in_temporary_folder(cls, bin_dir: Path) -> "PostgresCluster":
        """A cluster in a new folder under the system temp dir (reachable by `postgres`)."""
        return cls(bin_dir=bin_dir, folder=Path(tempfile.mkdtemp(prefix="mianzheng-pg-")), port=free_port())

    def save(self, path: Path) -> None:
        """Write where the cluster is, for the other processes of the test run."""
        path.write_text(json.dumps({"bin_dir": str(self.bin_dir), "folder": str(self.folder), "port": self.port}))

    @classmethod
    def load(cls, path: Path) -> "PostgresCluster":
        found = json.loads(path.read_text())
        return cls(bin_dir=Path(found["bin_dir"]), folder=Path(found["folder"]), port=found["port"])

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                  "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
