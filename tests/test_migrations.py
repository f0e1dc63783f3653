"""The schema that the migrations build is exactly the one the models describe, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
import pytest
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import MetaData, Table

from api.database import make_engine
from api.model_registry import metadata
from api.settings import Settings


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


def test_cases_filed_before_the_claim_existed_are_claimed_by_their_earliest_application(database_url: str) -> None:
    """An installation where a case was filed twice (before the claim existed) upgrades: the earliest
    application claims the case, the other stays as it was, and the case cannot be filed a third time."""
    from datetime import datetime, timedelta, timezone

    from alembic import command
    from sqlalchemy import insert, select

    from api.migrations import alembic_config
    from exchange.applications.records import Application, ApplicationCase, ApplicationItem

    command.downgrade(alembic_config(database_url), "0018")
    engine = make_engine(database_url)
    at = datetime(2026, 11, 2, tzinfo=timezone.utc)

    def row(application_id: str, case_number: str, created_at: datetime) -> dict[str, object]:
        return {"id": application_id, "matter": "PUBLIC_RENTAL_HOUSING", "catalog_hash": "0" * 64, "client_id": "c1",
                "consumer_department": "ZJ", "request_id": application_id, "request_sha256": "0" * 64,
                "caseworker_id": "zj-1", "case_number": case_number, "applicant_key": "0" * 64, "options": {},
                "parties_key_id": 1, "parties_sealed": b"x", "offers_key_id": 1, "offers_sealed": b"x",
                "status": "decided", "priorities": [], "flagged": False, "created_at": created_at, "updated_at": created_at}

    with engine.begin() as connection:
        connection.execute(insert(Application.__table__), [
            row("b-later", "GZF-1", at + timedelta(hours=1)), row("a-earliest", "GZF-1", at),
            row("c-other", "GZF-2", at + timedelta(hours=2))])
        connection.execute(insert(ApplicationItem.__table__), [  # rows referring to them: the tables are rebuilt
            {"application_id": "a-earliest", "position": 0, "proof": "NO_HOUSING", "party": "applicant",
             "mode": "data_sharing", "department": "BDC", "state": "resolved", "attempts": 1}])
    command.upgrade(alembic_config(database_url), "head")
    with engine.connect() as connection:
        claims = connection.execute(select(ApplicationCase.case_number, ApplicationCase.application_id)
                                    .order_by(ApplicationCase.case_number)).all()
        kept = connection.execute(select(Application.id).order_by(Application.id)).scalars().all()
        items = connection.execute(select(ApplicationItem.application_id)).scalars().all()
    engine.dispose()
    assert [tuple(claim) for claim in claims] == [("GZF-1", "a-earliest"), ("GZF-2", "c-other")]
    assert kept == ["a-earliest", "b-later", "c-other"] and items == ["a-earliest"]


def test_consents_kept_before_the_chain_recorded_them_are_chained_by_the_upgrade(database_url: str) -> None:
    """An installation upgraded from before consents were chained keeps them: each running one
    still lets its department pull, each withdrawn one stays withdrawn, and the chain is whole."""
    from datetime import datetime, timedelta, timezone

    from alembic import command
    from sqlalchemy import insert, text

    from api.database import make_session_factory
    from api.migrations import alembic_config
    from exchange.access_log import verify_chain
    from exchange.consent import (ConsentWithdrawn, check_consents_against_chain, find_valid_consent,
                                  list_consents)

    command.downgrade(alembic_config(database_url), "0026")
    engine = make_engine(database_url)
    at = datetime.now(timezone.utc)
    consents = Table("consents", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM access_log"))
        connection.execute(text("DELETE FROM consents"))
        connection.execute(insert(consents), [
            {"id": f"00000000-0000-4000-8000-00000000000{n}", "subject_key": "a" * 64, "matter": "PUBLIC_RENTAL_HOUSING",
             "proofs": ["NO_HOUSING"], "consumer_department": "ZJ", "channel": "online", "granted_at": at,
             "expires_at": at + timedelta(days=30), "withdrawn_at": at if n == 2 else None, "bound_client_id": None,
             "application_id": None, "items": None} for n in (1, 2)])
    command.upgrade(alembic_config(database_url), "head")
    with make_session_factory(engine)() as session:
        found = find_valid_consent(session, "a" * 64, None, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", at)
        assert found.id == "00000000-0000-4000-8000-000000000001"
        with pytest.raises(ConsentWithdrawn):
            find_valid_consent(session, "a" * 64, "00000000-0000-4000-8000-000000000002", "PUBLIC_RENTAL_HOUSING",
                               "NO_HOUSING", "ZJ", at)
        assert [c.status(at).value for c in list_consents(session, "a" * 64)] == ["active", "withdrawn"]
        verdict = verify_chain(session)
        # the two grants, the withdrawal; the catalog version and the demo's department system (0028),
        # and that system's credentials (0030)
        assert verdict.intact and verdict.entries == 6
        assert check_consents_against_chain(session).differing == 0
    engine.dispose()


def test_catalog_versions_published_before_the_chain_recorded_them_are_chained_by_the_upgrade(
        database_url: str) -> None:
    """An installation upgraded from before operations were chained: each catalog version it kept
    gets its publication's entry, so the auditor's check agrees, and sees a publisher edited after."""
    from alembic import command
    from sqlalchemy import text

    from api.database import make_session_factory
    from api.migrations import alembic_config
    from exchange.access_log import verify_chain
    from exchange.operations_audit import check_operations_against_chain
    from exchange.status_lists import published_indexes

    command.downgrade(alembic_config(database_url), "0027")
    engine = make_engine(database_url)
    with engine.begin() as connection:  # as the older release kept them: the chain held no operation
        for statement in ("DELETE FROM access_log", "DELETE FROM consents",
                          "UPDATE catalog_versions SET published_by = '目录管理员', note = NULL"):
            connection.execute(text(statement))
    command.upgrade(alembic_config(database_url), "head")
    with make_session_factory(engine)() as session:
        verdict = verify_chain(session)
        assert verdict.intact and verdict.entries == 3  # the catalog version, the demo's department system (twice)
        found = check_operations_against_chain(session, lambda list_id: published_indexes(session, list_id))
        assert (found.versions, found.differing) == (1, 0)
    with engine.begin() as connection:
        connection.execute(text("UPDATE catalog_versions SET published_by = '李四'"))
    with make_session_factory(engine)() as session:
        assert check_operations_against_chain(session, lambda _list: ()).versions_unrecorded == 1
    engine.dispose()


def test_department_systems_registered_before_the_chain_held_credentials_keep_working_after_the_upgrade(
        database_url: str) -> None:
    """A department system registered, then given a new token with 30 minutes' grace, by a release
    whose entries recorded no credentials: after the upgrade both its tokens work as before (the
    old one until its grace ends), the auditor's check agrees, and a secret of someone's own
    written into its row afterwards is refused and counted."""
    import hashlib
    from datetime import datetime, timedelta, timezone

    from alembic import command
    from sqlalchemy import text

    from api.database import make_session_factory
    from api.migrations import alembic_config
    from catalog.versions import read_live_catalog
    from exchange.access_log import verify_chain
    from exchange.clients import InvalidCredentials, authenticate, clients_unlike_chain, register_client, rotate_client

    engine = make_engine(database_url)
    at = datetime.now(timezone.utc)
    with make_session_factory(engine)() as session:
        record, old = register_client(session, read_live_catalog(session), "ZJ", "公租房审批系统")
        _, new = rotate_client(session, record.public_id, grace=timedelta(minutes=30), now=at)
        client_id = record.public_id
        session.commit()
    command.downgrade(alembic_config(database_url), "0027")
    with engine.begin() as connection:  # as the older release kept them: the chain held no operation
        connection.execute(text("DELETE FROM access_log"))
        connection.execute(text("DELETE FROM consents"))
    command.upgrade(alembic_config(database_url), "head")
    with make_session_factory(engine)() as session:
        assert verify_chain(session).intact
        assert authenticate(session, new).client_id == client_id
        assert authenticate(session, old, now=at + timedelta(minutes=29)).department_code == "ZJ"
        with pytest.raises(InvalidCredentials):
            authenticate(session, old, now=at + timedelta(minutes=31))
        assert clients_unlike_chain(session) == set()
    own = "z" * 43
    with engine.begin() as connection:
        connection.execute(text("UPDATE exchange_clients SET secret_hash = :hash WHERE public_id = :id"),
                           {"hash": hashlib.sha256(own.encode()).hexdigest(), "id": client_id})
    with make_session_factory(engine)() as session:
        with pytest.raises(InvalidCredentials):
            authenticate(session, f"mzc_{client_id}_{own}")
        assert authenticate(session, new).client_id == client_id
        assert clients_unlike_chain(session) == {client_id}
    engine.dispose()


def test_revocations_kept_only_in_their_rows_are_chained_by_the_upgrade(app: Flask, settings: Settings,
                                                                        database_url: str, tmp_path: Path) -> None:
    """A certificate, a license and a seal revoked by a release whose chain recorded no operation:
    the upgrade gives each its revocation's entry, so the auditor's check agrees with the rows,
    and names each row an insider sets back afterwards (every later signing keeps them revoked)."""
    from alembic import command
    from sqlalchemy import text

    from api.migrations import alembic_config
    from exchange.clients import ClientScope
    from tests.api.test_certificates_api import client_token
    from tests.api.test_operations_in_the_chain import certificate_issued_at_the_counter
    from tests.support.cli import cli_environment, run_cli

    env = cli_environment(database_url, settings.var_dir)
    certificate = certificate_issued_at_the_counter(env, settings, tmp_path)
    assert run_cli(env, "certificate", "revoke", certificate, "--reason", "obtained_by_fraud").returncode == 0
    assert run_cli(env, "seal", "revoke", "MZ", "--reason", "key_compromise").returncode == 0
    engine = make_engine(database_url)
    with engine.connect() as connection:
        license_version, issuer = connection.execute(text(
            "SELECT v.identifier, l.issuer_department FROM license_versions v JOIN licenses l ON l.id = v.license_id "
            "WHERE v.status = 'valid' ORDER BY v.id LIMIT 1")).one()
        [seal] = connection.execute(text("SELECT serial_hex FROM seals WHERE revoked_at IS NOT NULL")).scalars()
    issuing = {"Authorization": f"Bearer {client_token(settings, issuer, [ClientScope.LICENSES_WRITE])}"}
    revoked = app.test_client().post(f"/api/v1/licenses/{license_version}/revocation", headers=issuing,
                                     json={"reason": "obtained_by_fraud"})
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    command.downgrade(alembic_config(database_url), "0027")
    with engine.begin() as connection:  # as the older release kept them: the chain held no operation
        connection.execute(text("DELETE FROM access_log"))
        connection.execute(text("DELETE FROM consents"))
    command.upgrade(alembic_config(database_url), "head")
    with engine.connect() as connection:
        chained = set(connection.execute(text(
            "SELECT reason, case_number FROM access_log WHERE outcome = 'operation' AND reason LIKE '%-revoked'")))
    assert chained >= {("certificate-revoked", certificate), ("license-revoked", license_version),
                       ("seal-revoked", seal)}, chained
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 0, audited.stderr
    with engine.begin() as connection:
        connection.execute(text("UPDATE certificates SET status = 'valid', revoked_at = NULL, "
                                "revocation_reason = NULL"))
        connection.execute(text("UPDATE licenses SET status = 'valid'"))
        connection.execute(text("UPDATE seals SET status = 'active', revoked_at = NULL, revocation_reason = NULL "
                                f"WHERE serial_hex = '{seal}'"))
    engine.dispose()
    audited = run_cli(env, "audit", "verify")
    assert audited.returncode == 1 and "3 项日志记载的撤销、吊销" in audited.stderr, audited.stderr
