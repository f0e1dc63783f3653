"""Alembic environment: runs migrations online against the configured URL.

On SQLite a migration that alters a table rebuilds it (batch mode: copy, drop, rename), and
dropping a table other rows refer to fails while foreign keys are enforced. So foreign keys are
off for the migrations (a pragma that only takes effect outside a transaction, hence set before
it) and checked as a whole afterwards: a migration that left a dangling reference fails there.
"""

from alembic import context
from sqlalchemy import Engine, text

from api.database import make_engine
from api.model_registry import metadata

config = context.config


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        _migrate(engine)
    finally:  # a migration that failed (a full disk) leaves no connection holding the database file open
        engine.dispose()


def _migrate(engine: Engine) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            connection.commit()
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            dangling = connection.execute(text("PRAGMA foreign_key_check")).all()
            connection.execute(text("PRAGMA foreign_keys=ON"))
            connection.commit()
            if dangling:
                raise RuntimeError(f"the migrations left {len(dangling)} rows referring to rows that do not exist")


run_migrations_online()
