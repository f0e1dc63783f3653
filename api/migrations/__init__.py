"""Alembic migrations of the whole schema, and the function that applies them.

The schema is only ever created by these migrations (never `create_all`), on SQLite and
PostgreSQL alike; `mianzheng init` runs them.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_database(database_url: str) -> None:
    """Bring the database at `database_url` to the newest schema revision."""
    command.upgrade(alembic_config(database_url), "head")
