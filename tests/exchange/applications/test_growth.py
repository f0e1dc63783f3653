"""A filing's reads do not grow with the applications filed before it. Every statement a 公租房
filing reads with is run again on a fresh installation and on one holding thousands of earlier
applications of the same matter and department (their rows copied, under other keys), and the
database says how much it read: SQLite the virtual-machine steps of the statement, PostgreSQL the
rows its plan (after ANALYZE, as autovacuum keeps it) visited."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from api.settings import Settings
from demo.applications import PUBLIC_RENTAL_HOUSING
from demo.case_files import copy_applications
from exchange.applications.context import HandlingContext
from exchange.applications.resolution import resolve_application
from exchange.applications.service import submit_application
from exchange.clients import AuthenticatedClient
from tests.exchange.applications.conftest import housing_request

COPIES = 2048
"""Each of the two applications filed is copied this many times: 4,096 applications, ~65,000 items."""


def test_a_filing_reads_as_much_after_thousands_of_applications_as_on_a_fresh_installation(
        ctx: HandlingContext, settings: Settings, client: AuthenticatedClient) -> None:
    engine: Engine = ctx.pull.sessions.kw["bind"]
    _file(ctx, settings, client, "growth-000000000001")
    fresh = _reads(engine, _statements_of(engine, lambda: _file(ctx, settings, client, "growth-000000000002")))
    _grow(engine)
    grown = _reads(engine, _statements_of(engine, lambda: _file(ctx, settings, client, "growth-000000000003")))
    grew = max(grown, key=lambda statement: grown[statement] - fresh[statement])
    assert sum(grown.values()) <= 1.5 * sum(fresh.values()), f"{grew}: {fresh[grew]} on a fresh installation, {grown[grew]}"


def _file(ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, request_id: str) -> None:
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, request_id))
    resolve_application(ctx, filed.application_id)


def _statements_of(engine: Engine, act: Any) -> list[tuple[str, Any]]:
    """The reading statements `act` runs on the service's database, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        act()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


def _reads(engine: Engine, statements: Sequence[tuple[str, Any]]) -> Counter[str]:
    """How much each statement reads, run again now (summed over repeats of the same text)."""
    read: Counter[str] = Counter()
    with _raw(engine) as connection:
        for statement, parameters in statements:
            read[statement] += _work(engine, connection, statement, parameters)
    return read


@contextmanager
def _raw(engine: Engine) -> Iterator[Any]:
    connection = engine.raw_connection()
    try:
        yield connection.driver_connection
    finally:
        connection.rollback()
        connection.close()


def _work(engine: Engine, connection: Any, statement: str, parameters: Any) -> int:
    if engine.dialect.name == "sqlite":
        steps = [0]

        def step() -> int:
            steps[0] += 1
            return 0

        connection.set_progress_handler(step, 10)
        try:
            connection.execute(statement, parameters).fetchall()
        finally:
            connection.set_progress_handler(None, 0)
        return steps[0]
    [[plan]] = connection.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).fetchone()
    return _rows_visited(plan["Plan"] if isinstance(plan, dict) else json.loads(plan)[0]["Plan"])


def _rows_visited(node: dict[str, Any]) -> int:
    loops = node.get("Actual Loops", 1)
    own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
           + node.get("Rows Removed by Index Recheck", 0)) * loops
    return own + sum(_rows_visited(child) for child in node.get("Plans", ()))


def _grow(engine: Engine) -> None:
    """`COPIES` copies of what is filed; on PostgreSQL the statistics autovacuum would gather."""
    with engine.begin() as connection:
        copy_applications(connection, COPIES)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
