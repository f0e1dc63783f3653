"""Rows read on the driver's cursor are the rows SQLAlchemy reads, in the connection's own transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from api.database import make_engine, make_session_factory, plain_reads
from core.driver_reads import first_row
from exchange.certificates.status_list import StatusListError
from exchange.licenses.service import LICENSES
from exchange.status_lists import CERTIFICATES, StatusListRecord, stored_status_list, trust_and_lists_source
from seals.registry import SealCa, trust_store


def test_a_row_read_on_the_driver_is_the_row_sqlalchemy_reads(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with plain_reads(engine).connect() as connection:
            statement = select(SealCa.serial_hex, SealCa.crl_der).limit(1)
            assert first_row(connection, statement) == tuple(connection.execute(statement).one())
            assert isinstance(first_row(connection, statement)[1], bytes)
            token = stored_status_list(connection, CERTIFICATES.first_list_id, CERTIFICATES)
            assert token is not None and token.count(".") == 2
            assert stored_status_list(connection, 10_000, CERTIFICATES) is None
            assert trust_store(connection).root.subject.rfc4514_string()
    finally:
        engine.dispose()


def test_a_read_inside_a_transaction_sees_its_own_uncommitted_write(database_url: str) -> None:
    """On a session's connection the read runs in the session's transaction: it sees what the
    transaction wrote and nothing of it remains after a rollback."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            list_id = CERTIFICATES.first_list_id
            stored = stored_status_list(session, list_id, CERTIFICATES)
            session.execute(update(StatusListRecord).where(StatusListRecord.id == list_id).values(token="a.b.c"))
            assert stored_status_list(session, list_id, CERTIFICATES) == "a.b.c"
            session.rollback()
            assert stored_status_list(session, list_id, CERTIFICATES) == stored
    finally:
        engine.dispose()


def test_the_trust_material_comes_with_the_list_a_document_names(database_url: str) -> None:
    """On a database server the list the document names is read in the trust material's
    statement; any other list a verified certificate names is still found, and a list of another
    kind is never taken for a certificates' list (a list the service does not have is an error,
    never a list skipped). SQLite does not read the document ahead."""
    engine = make_engine(database_url)
    try:
        with plain_reads(engine).connect() as connection:
            def url(list_id: int) -> str:
                return f"https://elsewhere.example/api/v1/status-lists/{list_id}"
            asked: list[str] = []
            named = url(CERTIFICATES.first_list_id)
            trust, lookup = trust_and_lists_source(connection, CERTIFICATES, lambda: asked.append(named) or named)
            assert trust is trust_store(connection)  # the same parsed store for the same version
            assert asked == ([] if database_url.startswith("sqlite") else [named])
            first = stored_status_list(connection, CERTIFICATES.first_list_id, CERTIFICATES)
            assert first is not None and lookup(named) == first
            assert stored_status_list(connection, LICENSES.first_list_id) is not None
            for unknown in (url(LICENSES.first_list_id), url(10_000)):  # no list the service holds: not valid
                with pytest.raises(StatusListError, match="does not have"):
                    lookup(unknown)

            licenses_named = url(LICENSES.first_list_id)
            _, lookup = trust_and_lists_source(connection, CERTIFICATES, lambda: licenses_named)
            assert lookup(named) == first
            with pytest.raises(StatusListError, match="does not have"):
                lookup(licenses_named)
    finally:
        engine.dispose()
