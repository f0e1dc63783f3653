"""The first row of a fixed statement, read on the database driver's own cursor.

Certificate verification reads two plain values on every call (the trust material's version and
a signed status list; on PostgreSQL in one statement). Run through SQLAlchemy's execution (an
execution context, a result object and its row processing per statement), each read cost several
times the driver's own work, and more again interleaved with the verification around it.
`first_row` compiles each statement once per dialect and runs it on the cursor of the connection
given, inside whatever transaction (or autocommit) that connection is in, so the pool's checks and
the connection's isolation level apply as before. The row comes back as the driver returns it: only for statements whose columns
need no type processing (text, integers, bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.engine import Compiled
from sqlalchemy.sql import ClauseElement


def first_row(connection: Connection, statement: ClauseElement,
              parameters: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
    """The first row `statement` (a module constant: compiled once per dialect) returns on
    `connection` with `parameters` for its bound names, or None."""
    compiled = _compiled(statement, connection.dialect)
    values = compiled.construct_params(parameters)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.string,
                       tuple(values[name] for name in compiled.positiontup or ()) if compiled.positional else values)
        return cursor.fetchone()
    finally:
        cursor.close()


@lru_cache(maxsize=64)
def _compiled(statement: ClauseElement, dialect: Dialect) -> Compiled:
    return statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
