"""Rows read on the driver's cursor are the rows SQLAlchemy reads, in the connection's own transaction."""

from __future__ import annotations

from sqlalchemy import select, update

from api.database import make_engine, make_session_factory, plain_reads
from core.driver_reads import first_row
from exchange.status_lists import CERTIFICATES, StatusListRecord, stored_status_list
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
