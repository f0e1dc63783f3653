"""Consents: granted against the catalog, listed, withdrawn, and found (or refused) for a request."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from catalog.model import Catalog
from exchange.access_log import AccessRecord, entries_for_subject, verify_chain
from exchange.consent import (
    Channel,
    Consent,
    ConsentExpired,
    ConsentMismatch,
    ConsentMissing,
    ConsentNotFound,
    ConsentRequest,
    ConsentStatus,
    ConsentWithdrawn,
    check_consents_against_chain,
    end_application_consents,
    find_valid_consent,
    grant_consent,
    list_consents,
    withdraw_consent,
)
from exchange.errors import InvalidInput

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
ME = "a" * 64
SOMEONE_ELSE = "b" * 64
HOUSING = ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING", "MARITAL_STATUS"], "ZJ", 30)


def _grant(session: Session, live: Catalog, request: ConsentRequest = HOUSING, subject: str = ME) -> str:
    return grant_consent(session, live, subject, request, channel=Channel.ONLINE, now=T0).id


def test_lifecycle_grant_find_list_withdraw(session: Session, live: Catalog) -> None:
    consent_id = _grant(session, live)
    session.commit()
    found = find_valid_consent(session, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0)
    assert found.id == consent_id and found.proofs == ["MARITAL_STATUS", "NO_HOUSING"]
    assert find_valid_consent(session, ME, None, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0).id == consent_id
    assert [c.id for c in list_consents(session, ME)] == [consent_id]
    assert list_consents(session, SOMEONE_ELSE) == []

    withdrawn = withdraw_consent(session, consent_id, subject_key=ME, now=T0 + timedelta(days=1))
    assert withdrawn.status(T0 + timedelta(days=2)) is ConsentStatus.WITHDRAWN
    again = withdraw_consent(session, consent_id, subject_key=None, now=T0 + timedelta(days=5))
    assert again.withdrawn_at == T0 + timedelta(days=1)
    with pytest.raises(ConsentWithdrawn):
        find_valid_consent(session, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0 + timedelta(days=2))
    with pytest.raises(ConsentMissing):
        find_valid_consent(session, ME, None, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0 + timedelta(days=2))


def test_two_withdrawals_at_once_keep_the_first_time(session: Session, live: Catalog,
                                                    sessions: sessionmaker[Session]) -> None:
    """A citizen and an operator (or a double click) withdraw the same consent at once: both read
    it as running, and the one that commits second must not move the withdrawal time later than
    the time the first was told."""
    consent_id = _grant(session, live)
    session.commit()
    with sessions() as citizen, sessions() as operator:
        read = [citizen.get(Consent, consent_id), operator.get(Consent, consent_id)]  # kept, as read
        assert [consent.withdrawn_at for consent in read if consent is not None] == [None, None]
        first = withdraw_consent(citizen, consent_id, subject_key=ME, now=T0 + timedelta(days=1)).withdrawn_at
        citizen.commit()
        second = withdraw_consent(operator, consent_id, subject_key=None, now=T0 + timedelta(days=2)).withdrawn_at
        operator.commit()
    session.expire_all()
    stored = session.get(Consent, consent_id)
    assert stored is not None
    assert first == second == stored.withdrawn_at == T0 + timedelta(days=1)


def test_refusals_name_why(session: Session, live: Catalog) -> None:
    consent_id = _grant(session, live)
    cases = [
        (ConsentMissing, dict(subject_key=SOMEONE_ELSE)),
        (ConsentMissing, dict(consent_id="not-a-consent-id")),
        (ConsentExpired, dict(at=T0 + timedelta(days=30))),
        (ConsentMismatch, dict(proof="INCOME")),
        (ConsentMismatch, dict(consumer_department="GA")),
    ]
    for error, change in cases:
        arguments = dict(subject_key=ME, consent_id=consent_id, matter="PUBLIC_RENTAL_HOUSING",
                         proof="NO_HOUSING", consumer_department="ZJ", at=T0) | change
        with pytest.raises(error) as refused:
            find_valid_consent(session, **arguments)
        assert refused.value.reason.startswith("consent-")


def test_another_departments_consent_tells_nothing_of_its_terms(session: Session, live: Catalog) -> None:
    """A department naming a consent the citizen gave another department is refused without
    learning what it covers (that this citizen applied for 公租房 with the housing bureau), nor
    whether it is still running."""
    consent_id = _grant(session, live)
    withdraw_consent(session, consent_id, subject_key=ME, now=T0 + timedelta(hours=1))
    for at in (T0, T0 + timedelta(days=2), T0 + timedelta(days=40)):
        with pytest.raises(ConsentMismatch) as refused:
            find_valid_consent(session, subject_key=ME, consent_id=consent_id, matter="MINIMUM_LIVING_APPLICATION",
                               proof="NO_HOUSING", consumer_department="MZ", at=at)
        message = str(refused.value)
        assert "PUBLIC_RENTAL_HOUSING" not in message and "ZJ" not in message and "withdrawn" not in message, message


def test_grant_is_checked_against_the_catalog(session: Session, live: Catalog) -> None:
    bad = [
        ("matter", ConsentRequest("NO_SUCH_MATTER", ["NO_HOUSING"], "ZJ", 30)),
        ("proofs", ConsentRequest("PUBLIC_RENTAL_HOUSING", [], "ZJ", 30)),
        ("proofs", ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING", "BIRTH_MEDICAL"], "ZJ", 30)),
        ("department", ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING"], "GA", 30)),
        ("days", ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING"], "ZJ", 0)),
        ("days", ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING"], "ZJ", 366)),
    ]
    for field, request in bad:
        with pytest.raises(InvalidInput) as invalid:
            _grant(session, live, request)
        assert invalid.value.field == field
    assert list_consents(session, ME) == []


def test_a_citizen_cannot_withdraw_another_citizens_consent(session: Session, live: Catalog) -> None:
    consent_id = _grant(session, live, subject=SOMEONE_ELSE)
    with pytest.raises(ConsentNotFound):
        withdraw_consent(session, consent_id, subject_key=ME)
    with pytest.raises(ConsentNotFound):
        withdraw_consent(session, "../../etc", subject_key=ME)


def test_a_withdrawal_waits_for_an_access_being_decided_on_the_consent(
        session: Session, live: Catalog, sessions: sessionmaker[Session], database_url: str) -> None:
    """A pull has found the consent valid and is logging its access when the citizen withdraws: the
    withdrawal waits for that decision to commit and takes its time after it, so the access log
    never shows data released on a consent after its withdrawal was committed."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: a withdrawal cannot commit inside a pull's step")
    consent_id = _grant(session, live)
    session.commit()
    withdrawn: list[datetime] = []

    def withdraw() -> None:
        with sessions() as citizen:
            withdrawn.append(withdraw_consent(citizen, consent_id, subject_key=ME).withdrawn_at)
            citizen.commit()

    with sessions() as pulling:
        find_valid_consent(pulling, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", at=T0)
        citizen = threading.Thread(target=withdraw)
        citizen.start()
        citizen.join(0.5)
        assert citizen.is_alive() and not withdrawn  # it waits for the decision
        decided_at = datetime.now(timezone.utc)  # the access logged, just before the commit
        pulling.commit()
    citizen.join(10)
    assert withdrawn and withdrawn[0] > decided_at


def test_an_access_decided_after_a_withdrawal_committed_is_refused_whatever_its_clock_said(
        session: Session, live: Catalog) -> None:
    """A pull takes its time, then waits for the consent while the citizen's withdrawal commits
    with a later time. The withdrawal is committed when the pull reads it: the access it would
    log comes after the withdrawal, so it is refused, not allowed for having read the clock first."""
    consent_id = _grant(session, live)
    decided_at = T0 + timedelta(days=1)
    withdraw_consent(session, consent_id, subject_key=ME, now=decided_at + timedelta(milliseconds=20))
    session.commit()
    with pytest.raises(ConsentWithdrawn):
        find_valid_consent(session, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", at=decided_at)


def test_the_chain_records_each_grant_and_withdrawal_and_stays_whole(session: Session, live: Catalog) -> None:
    """A consent given and withdrawn is two entries of the access log's chain, naming the
    consent, its citizen, department and matter, the grant with its terms; the citizen's
    谁用了我的数据 lists accesses only."""
    consent_id = _grant(session, live)
    withdraw_consent(session, consent_id, subject_key=ME, now=T0 + timedelta(days=1))
    session.commit()
    entries = session.scalars(select(AccessRecord).where(AccessRecord.consent_id == consent_id)
                              .order_by(AccessRecord.seq)).all()
    assert [(e.outcome, e.subject_key, e.consumer_department, e.matter) for e in entries] == [
        ("granted", ME, "ZJ", "PUBLIC_RENTAL_HOUSING"), ("withdrawn", ME, "ZJ", "PUBLIC_RENTAL_HOUSING")]
    stored = session.get(Consent, consent_id)
    assert stored is not None and stored.items and set(stored.items) == {"MARITAL_STATUS", "NO_HOUSING"}
    assert json.loads(entries[0].purpose or "") == {
        "application_id": None, "channel": "online", "expires_at": "2026-03-31T09:00:00.000000Z",
        "items": stored.items, "proofs": ["MARITAL_STATUS", "NO_HOUSING"]}
    assert verify_chain(session).intact
    assert entries_for_subject(session, ME).total == 0


@pytest.mark.parametrize("edit", [
    "withdrawn_at = NULL",  # a withdrawal set back
    "proofs = '[\"INCOME\", \"MARITAL_STATUS\", \"NO_HOUSING\"]'",  # a proof added
    "consumer_department = 'MZ'",  # another department
    "expires_at = '2099-01-01 00:00:00.000000'",  # longer
])
def test_a_consent_edited_in_its_table_gives_no_more_than_the_chain_records(
        session: Session, live: Catalog, edit: str) -> None:
    consent_id = _grant(session, live)
    withdrawn = "withdrawn_at" in edit
    if withdrawn:
        withdraw_consent(session, consent_id, subject_key=ME, now=T0 + timedelta(hours=1))
    session.execute(text(f"UPDATE consents SET {edit} WHERE id = :id"), {"id": consent_id})
    session.commit()
    session.expire_all()
    department = "MZ" if "MZ" in edit else "ZJ"
    with pytest.raises(ConsentWithdrawn if withdrawn else ConsentMissing):
        find_valid_consent(session, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", department, T0)
    with pytest.raises(ConsentMissing):
        find_valid_consent(session, ME, None, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", department, T0)
    listed = {consent.id: consent.status(T0) for consent in list_consents(session, ME)}
    assert listed == ({consent_id: ConsentStatus.WITHDRAWN} if withdrawn else {})


def test_a_consent_inserted_in_its_table_is_no_consent(session: Session, live: Catalog) -> None:
    consent_id = _grant(session, live)
    session.execute(text("INSERT INTO consents (id, subject_key, matter, proofs, consumer_department, channel, "
                         "granted_at, expires_at, items) SELECT :copy, :other, matter, proofs, consumer_department, "
                         "channel, granted_at, expires_at, items FROM consents WHERE id = :id"),
                    {"copy": "00000000-0000-4000-8000-000000000002", "other": SOMEONE_ELSE, "id": consent_id})
    session.commit()
    for named in ("00000000-0000-4000-8000-000000000002", None):
        with pytest.raises(ConsentMissing):
            find_valid_consent(session, SOMEONE_ELSE, named, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0)
    assert list_consents(session, SOMEONE_ELSE) == []
    assert find_valid_consent(session, ME, None, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0).id == consent_id


def test_a_counter_consent_ended_with_its_application_stays_as_granted_until_then(
        session: Session, live: Catalog) -> None:
    """Ending sooner than granted is what an application's end does: the consent counts until then."""
    consent_id = grant_consent(session, live, ME, HOUSING, channel=Channel.COUNTER, now=T0,
                               bound_client_id="zj-housing", application_id="00000000-0000-4000-8000-0000000000a1").id
    assert end_application_consents(session, "00000000-0000-4000-8000-0000000000a1", T0 + timedelta(days=2)) == 1
    session.commit()
    found = find_valid_consent(session, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ",
                               T0 + timedelta(days=1), client_id="zj-housing")
    assert found.id == consent_id
    with pytest.raises(ConsentExpired):
        find_valid_consent(session, ME, consent_id, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ",
                           T0 + timedelta(days=3), client_id="zj-housing")


def test_a_counter_consent_ended_with_its_application_stays_ended_whatever_its_row_says(
        session: Session, live: Catalog) -> None:
    """Its end is in the chain: setting the row's expiry back to the granted one lets the
    department system pull nothing, and the auditor's comparison counts the row."""
    application = "00000000-0000-4000-8000-0000000000a2"
    consent_id = grant_consent(session, live, ME, HOUSING, channel=Channel.COUNTER, now=T0,
                               bound_client_id="zj-housing", application_id=application).id
    end_application_consents(session, application, T0 + timedelta(days=1))
    session.execute(text("UPDATE consents SET expires_at = :back WHERE id = :id"),
                    {"back": T0 + timedelta(days=30), "id": consent_id})
    session.commit()
    session.expire_all()
    for named in (consent_id, None):
        with pytest.raises((ConsentExpired, ConsentMissing)):
            find_valid_consent(session, ME, named, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ",
                               T0 + timedelta(days=2), client_id="zj-housing")
    assert [c.status(T0 + timedelta(days=2)) for c in list_consents(session, ME)] == [ConsentStatus.EXPIRED]
    assert check_consents_against_chain(session).end_undone == 1


def test_a_twin_withdrawn_only_in_its_row_is_withdrawn_in_the_chain_with_the_other(
        session: Session, live: Catalog) -> None:
    """The citizen agreed twice; an insider marks the second withdrawn in its row only, the
    citizen withdraws the first, the insider clears the second's row: it stays withdrawn."""
    first, second = _grant(session, live), _grant(session, live)
    session.execute(text("UPDATE consents SET withdrawn_at = :at WHERE id = :id"), {"at": T0, "id": second})
    session.commit()
    assert check_consents_against_chain(session).withdrawn_beside == 1
    withdraw_consent(session, first, subject_key=ME, now=T0 + timedelta(hours=1))
    session.execute(text("UPDATE consents SET withdrawn_at = NULL WHERE id = :id"), {"id": second})
    session.commit()
    session.expire_all()
    with pytest.raises(ConsentWithdrawn):
        find_valid_consent(session, ME, second, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0 + timedelta(hours=2))
    with pytest.raises(ConsentMissing):
        find_valid_consent(session, ME, None, "PUBLIC_RENTAL_HOUSING", "NO_HOUSING", "ZJ", T0 + timedelta(hours=2))
