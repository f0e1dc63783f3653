"""Alembic migrations of the whole schema, and the function that applies them.

The schema is only ever created by these migrations (never `create_all`), on SQLite and
PostgreSQL alike; `mianzheng init` runs them, unless the database was last upgraded by the same
migration files (`migrations_digest`): Alembic is then not even loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded only when a database is upgraded
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def migrations_digest() -> str:
    """A digest of every migration file: a new or changed migration changes it."""
    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    """Bring the database at `database_url` to the newest schema revision."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
