"""Runtime settings, read once from the environment.

Every setting has a safe embedded default so that `scripts/serve` works on a fresh machine:
an SQLite file under `var/`. Production sets MIANZHENG_DATABASE_URL to PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """What the app and the CLI need to know about their environment."""

    var_dir: Path
    database_url: str
    public_url: str

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("MIANZHENG_VAR_DIR", "var")).resolve()
        database_url = env.get("MIANZHENG_DATABASE_URL") or f"sqlite:///{var_dir / 'mianzheng.db'}"
        public_url = env.get("MIANZHENG_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
        return cls(var_dir=var_dir, database_url=normalise_database_url(database_url), public_url=public_url)


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs given without a driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
