"""Consumer systems: tokens shown once and stored hashed, scopes, revocation and rotation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from catalog.model import Catalog
from exchange import clients
from exchange.clients import (
    AuthenticatedClient,
    ClientNotFound,
    ClientRevoked,
    ClientScope,
    InvalidCredentials,
    authenticate,
    list_clients,
    register_client,
    revoke_client,
    rotate_client,
)
from exchange.errors import InvalidInput

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_the_token_authenticates_and_only_its_hash_is_stored(session: Session, live: Catalog) -> None:
    record, token = register_client(session, live, "ZJ", "公租房审批系统", now=T0)
    session.commit()
    assert token.startswith(f"mzc_{record.public_id}_") and len(token) > 50
    client = authenticate(session, token)
    assert (client.department_code, client.name) == ("ZJ", "公租房审批系统")
    assert client.scopes == {ClientScope.EXCHANGE_REQUEST}
    secret = token.split("_", 2)[2]
    stored = session.execute(text("SELECT * FROM exchange_clients")).all()
    assert not any(secret in str(value) for row in stored for value in row)
    assert not any(token in str(value) for row in stored for value in row)


def test_wrong_malformed_and_unknown_tokens_are_refused(session: Session, live: Catalog) -> None:
    record, token = register_client(session, live, "ZJ", "系统")
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "mzc_nothing", "", "Bearer " + token,
                f"mzc_{'0' * 16}_{token.split('_', 2)[2]}", token + "x" * 200):
        with pytest.raises(InvalidCredentials):
            authenticate(session, bad)


def test_registration_checks_department_name_and_scopes(session: Session, live: Catalog) -> None:
    with pytest.raises(InvalidInput) as unknown:
        register_client(session, live, "NOWHERE", "系统")
    assert unknown.value.field == "department"
    with pytest.raises(InvalidInput) as blank:
        register_client(session, live, "ZJ", "  ")
    assert blank.value.field == "name"
    with pytest.raises(InvalidInput) as scope:
        register_client(session, live, "ZJ", "系统", ["exchange:request", "everything"])
    assert scope.value.field == "scopes" and "everything" in scope.value.detail
    record, _ = register_client(session, live, "ZJ", "系统", ["certificates:revoke", "exchange:request"])
    assert record.scope_list == ("certificates:revoke", "exchange:request")


def test_a_revoked_client_is_refused_and_cannot_be_rotated(session: Session, live: Catalog) -> None:
    record, token = register_client(session, live, "ZJ", "系统")
    revoke_client(session, record.public_id)
    with pytest.raises(InvalidCredentials):
        authenticate(session, token)
    with pytest.raises(ClientRevoked):
        rotate_client(session, record.public_id)
    assert revoke_client(session, record.public_id).revoked_at is not None
    with pytest.raises(ClientNotFound):
        revoke_client(session, "0" * 16)


def test_rotation_replaces_the_secret_at_once_by_default(session: Session, live: Catalog) -> None:
    record, old = register_client(session, live, "ZJ", "系统")
    _, new = rotate_client(session, record.public_id)
    assert authenticate(session, new).client_id == record.public_id
    with pytest.raises(InvalidCredentials):
        authenticate(session, old)


def test_rotation_with_grace_keeps_the_old_secret_for_a_while(session: Session, live: Catalog) -> None:
    record, old = register_client(session, live, "ZJ", "系统", now=T0)
    _, new = rotate_client(session, record.public_id, grace=timedelta(minutes=30), now=T0)
    assert authenticate(session, old, now=T0 + timedelta(minutes=29)).client_id == record.public_id
    with pytest.raises(InvalidCredentials):
        authenticate(session, old, now=T0 + timedelta(minutes=30))
    assert authenticate(session, new, now=T0 + timedelta(days=1)).client_id == record.public_id
    _, newest = rotate_client(session, record.public_id, now=T0 + timedelta(minutes=1))
    with pytest.raises(InvalidCredentials):  # a second rotation ends every earlier secret
        authenticate(session, old, now=T0 + timedelta(minutes=2))
    with pytest.raises(InvalidInput):
        rotate_client(session, record.public_id, grace=timedelta(days=2))


def test_a_request_in_flight_is_cut_off_as_its_token_would_be_now(session: Session, live: Catalog) -> None:
    """The store step of a request authenticated before (`ended_meanwhile`) finds its client ended
    exactly when its token would no longer authenticate: revoked, or replaced by a rotation whose
    grace is over; a rotation with grace leaves it its answer until then."""
    from exchange.pull_service import ended_meanwhile

    record, old = register_client(session, live, "ZJ", "系统", now=T0)
    in_flight = authenticate(session, old, now=T0)
    assert ended_meanwhile(session, [], in_flight, T0) == {}
    rotate_client(session, record.public_id, grace=timedelta(minutes=30), now=T0)
    assert ended_meanwhile(session, [], in_flight, T0 + timedelta(minutes=29)) == {}
    assert ended_meanwhile(session, [], in_flight, T0 + timedelta(minutes=30)) == {record.public_id: "unauthenticated"}
    _, new = rotate_client(session, record.public_id, now=T0 + timedelta(minutes=1))
    assert ended_meanwhile(session, [], in_flight, T0 + timedelta(minutes=2)) == {record.public_id: "unauthenticated"}
    assert ended_meanwhile(session, [], authenticate(session, new), T0 + timedelta(minutes=2)) == {}
    revoke_client(session, record.public_id)
    assert ended_meanwhile(session, [], authenticate_free(record.public_id), T0) == {record.public_id: "unauthenticated"}


def test_a_request_in_flight_is_judged_by_the_credentials_the_chain_records(session: Session, live: Catalog) -> None:
    """An insider writes a secret of their own into a system's row while its request is answered:
    the system's request keeps its answer, since its token still authenticates (by the chain's
    entry), and a request made with the insider's secret would be cut off as it is refused."""
    import hashlib

    from exchange.pull_service import ended_meanwhile

    record, token = register_client(session, live, "ZJ", "系统", now=T0)
    in_flight = authenticate(session, token, now=T0)
    own = hashlib.sha256(b"y" * 43).hexdigest()
    session.execute(text("UPDATE exchange_clients SET secret_hash = :own WHERE public_id = :id"),
                    {"own": own, "id": record.public_id})
    assert ended_meanwhile(session, [], in_flight, T0) == {}
    insiders = AuthenticatedClient(record.public_id, "ZJ", "", frozenset(), secret_hash=own)
    assert ended_meanwhile(session, [], insiders, T0) == {record.public_id: "unauthenticated"}


def authenticate_free(client_id: str) -> AuthenticatedClient:
    """A client as an application's later round acts in its name: without a token."""
    return AuthenticatedClient(client_id, "ZJ", "", frozenset())


def test_two_rotations_at_once_end_as_one_after_the_other(sessions: sessionmaker[Session], database_url: str,
                                                         live: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two operators rotate a client's secret at the same moment, with a grace period. The result is
    that of one rotation after the other: the newest secret works, the one it replaced works during
    the grace, and the original one no longer does."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite lets one transaction write at a time: the second rotation cannot start before the first ends")
    with sessions() as setup:
        record, original = register_client(setup, live, "ZJ", "系统", now=T0)
        setup.commit()
    read, go_on = threading.Event(), threading.Event()
    new_secret, calls = clients._new_secret, []

    def first_one_pauses() -> str:  # the first rotation has read the client and waits here
        calls.append(1)
        if len(calls) == 1:
            read.set()
            assert go_on.wait(30)
        return new_secret()

    monkeypatch.setattr(clients, "_new_secret", first_one_pauses)
    tokens: dict[str, str] = {}

    def rotate(name: str) -> None:
        with sessions() as session:
            _, tokens[name] = rotate_client(session, record.public_id, grace=timedelta(minutes=30),
                                            now=T0 + timedelta(minutes=1))
            session.commit()

    first = threading.Thread(target=rotate, args=("first",))
    first.start()
    assert read.wait(30)
    second = threading.Thread(target=rotate, args=("second",))
    second.start()
    second.join(1)  # as long as it takes, or until it waits for the first
    go_on.set()
    first.join(30)
    second.join(30)
    assert set(tokens) == {"first", "second"}
    at = T0 + timedelta(minutes=5)
    with sessions() as session:
        assert authenticate(session, tokens["second"], now=at).client_id == record.public_id
        assert authenticate(session, tokens["first"], now=at).client_id == record.public_id
        with pytest.raises(InvalidCredentials):
            authenticate(session, original, now=at)


def test_list_clients(session: Session, live: Catalog) -> None:
    before = {client.public_id for client in list_clients(session)}  # init registers the demo tenancy system
    register_client(session, live, "ZJ", "乙系统")
    register_client(session, live, "GA", "甲系统")
    added = [(c.department_code, c.name) for c in list_clients(session) if c.public_id not in before]
    assert added == [("GA", "甲系统"), ("ZJ", "乙系统")]
