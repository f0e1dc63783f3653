"""Plain SQL against a test database, as an operator with a database shell would run it (to
tamper with what the service stored, or to look at it), outside the service's own code."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text


def sql_rows(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run `statement` in a transaction of its own; the rows it returns (none for a change)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        result = connection.execute(text(statement))
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows
