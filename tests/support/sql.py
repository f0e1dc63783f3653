"""Plain SQL against a test database, as an operator with a database shell would run it (to
tamper with what the service stored, or to look at it), outside the service's own code; and an
installation's ledger emptied for tests of the chain's numbering."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, select, text


def sql_rows(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run `statement` in a transaction of its own; the rows it returns (none for a change)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        result = connection.execute(text(statement))
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows


EMPTY_LEDGER = ("DELETE FROM access_log", "DELETE FROM consents")
"""An installation that has logged nothing and holds no consent: the demo's applications gave
consents at init, each an entry of the chain, so tests of the chain's own numbering start here."""


def empty_ledger(database_url: str) -> None:
    """`EMPTY_LEDGER`, then the entries of each catalog version's publication and each department
    system's registration (entry 1 on), as the exchange's own code writes them: the exchange takes
    no system's token without one, and the auditor's check wants one for every version kept."""
    from api.database import standalone_session
    from catalog.versions import CatalogVersion
    from exchange.clients import ClientRecord, credentials_detail
    from exchange.operation_codes import Operation
    from exchange.operations import Actor, record_operation, record_publication

    for statement in EMPTY_LEDGER:
        sql_rows(database_url, statement)
    with standalone_session(database_url) as session:
        for version in session.scalars(select(CatalogVersion).order_by(CatalogVersion.number)):
            record_publication(session, version, Actor())
        for client in session.scalars(select(ClientRecord).order_by(ClientRecord.id)):
            record_operation(session, Operation.CLIENT_ADDED, Actor(), client.public_id,
                             department=client.department_code, detail=credentials_detail(client))
