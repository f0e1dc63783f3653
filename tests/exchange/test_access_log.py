"""The access log: a hash chain that names the first edited, deleted or reordered entry, keeps
one chain under concurrent appends on both engines, and never holds an ID number in clear."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from catalog.model import Catalog
from exchange.access_log import (
    AccessEntry,
    AccessRecord,
    ChainFault,
    ChainHead,
    ChainVerdict,
    Outcome,
    _hashed_text,
    append_access,
    canonical_entry,
    chain_head,
    entries_for_subject,
    entry_hash,
    record_access,
    record_decided_access,
    verify_chain,
)
from exchange.access_log_audit import verify_chain_in_processes
from exchange.clients import register_client
from exchange.consent import Channel, ConsentRequest, grant_consent, list_consents
from exchange.errors import InvalidInput
from exchange.subjects import subject_key
from tests.support.sql import EMPTY_LEDGER

ID_NUMBER = "11010519491231002X"
OTHER_ID_NUMBER = "440524198001010013"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def empty_log(session: Session) -> None:
    """The chain's own behaviour is tested from its first entry: the demo installation's consents
    are in the log already."""
    for statement in EMPTY_LEDGER:
        session.execute(text(statement))
    session.commit()


def _entry(subject: str | None, n: int = 0, outcome: Outcome = Outcome.ALLOWED) -> AccessEntry:
    return AccessEntry(
        outcome=outcome,
        reason=None if outcome is Outcome.ALLOWED else "consent-missing",
        request_id=f"req-{n}",
        client_id="0123456789abcdef",
        consumer_department="ZJ",
        caseworker_id="zj-0042",
        case_number=f"GZF-2026-{n:04d}",
        matter="PUBLIC_RENTAL_HOUSING",
        proof="NO_HOUSING",
        subject_key=subject,
        legal_basis="《公共租赁住房管理办法》",
        purpose="公租房资格审核",
    )


def _append(session: Session, count: int, subject: str | None = None) -> None:
    for n in range(count):
        append_access(session, _entry(subject or "c" * 64, n), now=T0 + timedelta(minutes=n))
    session.commit()


def test_an_intact_chain_verifies_and_reports_its_head(session: Session) -> None:
    assert verify_chain(session).intact and verify_chain(session).entries == 0
    _append(session, 5)
    verdict = verify_chain(session)
    assert verdict.intact and verdict.entries == 5
    assert verdict.head == chain_head(session) and verdict.head.seq == 5
    assert verify_chain(session, expected_head=ChainHead.parse(str(verdict.head))).intact


@pytest.mark.parametrize("tamper, first_bad, fault", [
    ("UPDATE access_log SET purpose = '改过的用途' WHERE seq = 3", 3, ChainFault.CONTENT_CHANGED),
    ("UPDATE access_log SET outcome = 'denied', reason = 'x' WHERE seq = 2", 2, ChainFault.CONTENT_CHANGED),
    ("DELETE FROM access_log WHERE seq = 4", 4, ChainFault.MISSING_ENTRY),
    ("DELETE FROM access_log WHERE seq = 1", 1, ChainFault.MISSING_ENTRY),
], ids=["edit-text", "edit-outcome", "delete-middle", "delete-first"])
def test_tampering_names_the_first_bad_entry(session: Session, tamper: str, first_bad: int,
                                             fault: ChainFault) -> None:
    _append(session, 6)
    session.execute(text(tamper))
    session.commit()
    verdict = verify_chain(session)
    assert not verdict.intact
    assert (verdict.first_bad_seq, verdict.fault) == (first_bad, fault)
    assert verdict.entries == first_bad - 1


@pytest.mark.parametrize("seq", [0, -1])
def test_an_entry_inserted_below_the_first_is_named_as_inserted(session: Session, seq: int) -> None:
    """Not "entry 1 is missing": entry 1 is there, and the row before it should not be."""
    _append(session, 3)
    session.execute(text("CREATE TEMPORARY TABLE copied AS SELECT * FROM access_log WHERE seq = 1"))
    session.execute(text("UPDATE copied SET seq = :seq, entry_hash = :hash"), {"seq": seq, "hash": "0" * 64})
    session.execute(text("INSERT INTO access_log SELECT * FROM copied"))
    session.commit()
    verdict = verify_chain(session)
    assert (verdict.first_bad_seq, verdict.fault, verdict.entries) == (seq, ChainFault.UNEXPECTED_ENTRY, 0)


def test_a_tampered_entry_past_the_first_fetched_batch_is_named(session: Session,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("exchange.access_log._VERIFY_BATCH", 3)
    _append(session, 10)
    assert verify_chain(session).entries == 10
    session.execute(text("UPDATE access_log SET case_number = 'GZF-2026-9999' WHERE seq = 8"))
    session.commit()
    verdict = verify_chain(session)
    assert (verdict.first_bad_seq, verdict.fault, verdict.entries) == (8, ChainFault.CONTENT_CHANGED, 7)


def test_reordering_entries_is_detected(session: Session) -> None:
    _append(session, 6)
    for statement in ("UPDATE access_log SET seq = -1 WHERE seq = 3",
                      "UPDATE access_log SET seq = 3 WHERE seq = 4",
                      "UPDATE access_log SET seq = 4 WHERE seq = -1"):
        session.execute(text(statement))
    session.commit()
    verdict = verify_chain(session)
    assert (verdict.first_bad_seq, verdict.fault) == (3, ChainFault.CONTENT_CHANGED)


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(session: Session) -> None:
    _append(session, 4)
    record = session.get(AccessRecord, 2)
    assert record is not None
    record.purpose = "伪造"
    record.entry_hash = entry_hash(record.prev_hash, record.seq, record.recorded_at, record.values())
    session.commit()
    verdict = verify_chain(session)
    assert (verdict.first_bad_seq, verdict.fault) == (3, ChainFault.BROKEN_LINK)


def test_truncation_is_detected_against_an_anchored_head(session: Session) -> None:
    _append(session, 5)
    anchor = chain_head(session)
    assert anchor is not None
    session.execute(text("DELETE FROM access_log WHERE seq = 5"))
    session.commit()
    assert verify_chain(session).intact  # without an anchor, a cut tail looks like a shorter log
    verdict = verify_chain(session, expected_head=anchor)
    assert (verdict.first_bad_seq, verdict.fault) == (5, ChainFault.HEAD_MISMATCH)


SEGMENT_TAMPERING = {
    "edit-last-of-a-segment": "UPDATE access_log SET purpose = '改过的用途' WHERE seq = 3",
    "edit-to-a-number": "UPDATE access_log SET case_number = 123 WHERE seq = 5",
    "delete-last-of-a-segment": "DELETE FROM access_log WHERE seq = 3",
    "delete-first-of-a-segment": "DELETE FROM access_log WHERE seq = 4",
    "delete-a-whole-segment": "DELETE FROM access_log WHERE seq BETWEEN 4 AND 6",
    "swap-across-a-boundary": "UPDATE access_log SET seq = -3 WHERE seq = 3; UPDATE access_log SET seq = 3 WHERE seq = 7; "
                              "UPDATE access_log SET seq = 7 WHERE seq = -3",
    "entry-before-the-first": "UPDATE access_log SET seq = 0 WHERE seq = 1",
}


@pytest.mark.parametrize("tamper", SEGMENT_TAMPERING.values(), ids=SEGMENT_TAMPERING.keys())
def test_checking_in_segments_names_the_same_first_bad_entry(session: Session, tamper: str) -> None:
    """Segments of 3 entries (1-3, 4-6, 7-9): what one walk from the first entry finds, the
    segments joined find too, also where the damage sits on or across a boundary."""
    _append(session, 9)
    for statement in tamper.split("; "):
        session.execute(text(statement))
    session.commit()
    whole = verify_chain(session)
    assert not whole.intact
    for segments in (2, 3, 4, 9):
        assert verify_chain(session, segments=segments) == whole


def test_a_rehashed_edit_at_a_segment_boundary_breaks_the_join(session: Session) -> None:
    """Entry 3 edited and its hash recomputed is self-consistent; only the link from entry 4,
    the first of the next segment, to entry 3 shows it."""
    _append(session, 9)
    record = session.get(AccessRecord, 3)
    assert record is not None
    record.purpose = "伪造"
    record.entry_hash = entry_hash(record.prev_hash, record.seq, record.recorded_at, record.values())
    session.commit()
    for segments in (1, 3):
        verdict = verify_chain(session, segments=segments)
        assert (verdict.first_bad_seq, verdict.fault, verdict.entries) == (4, ChainFault.BROKEN_LINK, 3)
        assert verdict.head == ChainHead(3, record.entry_hash)


def test_segments_check_the_anchor_and_an_intact_chain_alike(session: Session) -> None:
    _append(session, 7)
    head = chain_head(session)
    assert head is not None
    middle = ChainHead(4, session.scalar(select(AccessRecord.entry_hash).where(AccessRecord.seq == 4)))
    for segments in (1, 2, 3, 7, 20):
        assert verify_chain(session, segments=segments) == ChainVerdict(7, head)
        assert verify_chain(session, expected_head=middle, segments=segments) == ChainVerdict(7, head)
        forged = verify_chain(session, expected_head=ChainHead(4, "f" * 64), segments=segments)
        assert (forged.first_bad_seq, forged.fault, forged.entries) == (4, ChainFault.HEAD_MISMATCH, 3)
        beyond = verify_chain(session, expected_head=ChainHead(8, "f" * 64), segments=segments)
        assert (beyond.first_bad_seq, beyond.fault, beyond.entries) == (8, ChainFault.HEAD_MISMATCH, 7)


def test_parallel_processes_name_the_same_first_bad_entry(session: Session, database_url: str) -> None:
    _append(session, 12)
    assert verify_chain_in_processes(database_url, processes=3, parallel_from=1) == verify_chain(session)
    session.execute(text("DELETE FROM access_log WHERE seq = 5"))
    session.commit()
    verdict = verify_chain_in_processes(database_url, processes=3, parallel_from=1)
    assert (verdict.first_bad_seq, verdict.fault, verdict.entries) == (5, ChainFault.MISSING_ENTRY, 4)


@pytest.mark.parametrize("text_value", [
    'quotes " and \\ backslash', "控制字符\n\t\r\b\f\x01\x1f\x7f", "\u2028\u2029 line separators",
    "emoji 🏠 outside the BMP", "ending in a backslash\\", "", "%s %d %% not a format",
], ids=["quotes", "control", "separators", "astral", "backslash", "empty", "percent"])
def test_any_text_hashes_as_entry_hash_makes_it(session: Session, text_value: str) -> None:
    """Verification has the database write the canonical form for speed; on any text it must be
    the bytes `entry_hash` covers (else every entry would take the slow path), and the verdict
    must agree both ways: intact as appended, and a one-character edit is caught."""
    append_access(session, replace(_entry("c" * 64, 1), purpose=text_value, legal_basis=text_value),
                  now=T0 + timedelta(microseconds=123_456))
    session.commit()
    stored = session.get(AccessRecord, 1)
    assert stored is not None
    written = session.scalar(select(_hashed_text(session.get_bind().dialect.name)).where(AccessRecord.seq == 1))
    assert written.encode() == stored.prev_hash.encode() + canonical_entry(1, stored.recorded_at, stored.values())
    assert verify_chain(session) == ChainVerdict(1, chain_head(session))
    session.execute(text("UPDATE access_log SET legal_basis = :edited WHERE seq = 1"), {"edited": text_value + " "})
    session.commit()
    assert verify_chain(session).fault is ChainFault.CONTENT_CHANGED


def test_a_time_stored_in_another_form_is_hashed_as_the_orm_reads_it(session: Session) -> None:
    """The same instant written by another client in another text form (SQLite keeps text) is
    the same entry; a different instant is not."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores a timestamp, not its text")
    _append(session, 3)
    session.execute(text("UPDATE access_log SET recorded_at = '2026-03-01 09:01:00' WHERE seq = 2"))
    session.commit()
    assert verify_chain(session).intact
    session.execute(text("UPDATE access_log SET recorded_at = '2026-03-01 09:01:00.000001' WHERE seq = 2"))
    session.commit()
    assert (verify_chain(session).first_bad_seq, verify_chain(session).fault) == (2, ChainFault.CONTENT_CHANGED)


def test_entries_for_subject_newest_first_and_paginated(session: Session, hash_key: bytes) -> None:
    mine, other = subject_key(hash_key, ID_NUMBER), subject_key(hash_key, OTHER_ID_NUMBER)
    for n in range(5):
        append_access(session, _entry(mine if n % 2 == 0 else other, n))
    session.commit()
    page = entries_for_subject(session, mine, limit=2)
    assert page.total == 3 and [e.request_id for e in page.entries] == ["req-4", "req-2"]
    assert [e.request_id for e in entries_for_subject(session, mine, limit=2, offset=2).entries] == ["req-0"]


def test_entries_are_validated(session: Session) -> None:
    with pytest.raises(InvalidInput) as clear:
        append_access(session, _entry(ID_NUMBER))
    assert clear.value.field == "subject_key"
    with pytest.raises(InvalidInput) as reason:
        append_access(session, AccessEntry(outcome=Outcome.DENIED))
    assert reason.value.field == "reason"
    assert session.scalar(select(AccessRecord.seq)) is None


def test_no_id_number_in_clear_anywhere_in_the_database(session: Session, live: Catalog, hash_key: bytes) -> None:
    key = subject_key(hash_key, ID_NUMBER)
    grant_consent(session, live, key, ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING"], "ZJ", 30),
                  channel=Channel.ONLINE)
    register_client(session, live, "ZJ", "公租房审批系统")
    careless = replace(_entry(key), purpose=f"核查 {ID_NUMBER} 的住房", case_number=ID_NUMBER.lower())
    append_access(session, careless)
    append_access(session, _entry(key, 1, Outcome.DENIED))
    session.commit()
    assert verify_chain(session).intact
    stored = session.scalars(select(AccessRecord.purpose).where(AccessRecord.request_id == "req-0")).all()
    assert "110105********002X" in stored[0]

    texts = []
    inspector = inspect(session.get_bind())
    for table in inspector.get_table_names():
        rows = session.execute(text(f'SELECT * FROM "{table}"')).all()
        texts.extend(str(value) for row in rows for value in row if value is not None)
    assert texts
    for needle in (ID_NUMBER, ID_NUMBER.lower(), ID_NUMBER[:17]):
        assert not any(needle in value for value in texts)


@pytest.mark.parametrize("written", [
    "110105 19491231 002X",  # in groups, as people read them out
    "110105-19491231-002X",
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width, as a Chinese input method types it
    "11010519491231002XA",  # run into the next word
    "110105_19491231_002X",
    "110105，19491231，002X",
    "110105、19491231、002X",
])
def test_an_id_number_however_written_is_masked_in_the_log(session: Session, written: str) -> None:
    """A caseworker types a spouse's number into the purpose or the case number: the entry is
    shown to the subject of the pull (谁用了我的数据) and kept for auditors, so the number is
    masked whichever way it is written."""
    append_access(session, replace(_entry(None), purpose=f"公租房审核 配偶 {written}", case_number=written))
    session.commit()
    purpose, case_number = session.execute(select(AccessRecord.purpose, AccessRecord.case_number)).one()
    for stored in (purpose, case_number):
        digits = "".join(ch for ch in stored.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
                         if ch.isdigit())
        assert "19491231" not in digits, stored
        assert "*" in stored and stored.replace("*", "").rstrip("A").endswith(written.rstrip("A")[-4:]), stored


def test_concurrent_appends_keep_one_chain(sessions: sessionmaker[Session]) -> None:
    threads, per_thread = 8, 6
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def in_caller_transactions(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            with sessions.begin() as session:
                append_access(session, _entry("d" * 64, n * 100 + i))

    def in_own_transactions(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            record_access(sessions, _entry("e" * 64, n * 100 + i))

    def run(target, n: int) -> None:  # type: ignore[no-untyped-def]
        try:
            target(n)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    workers = [threading.Thread(target=run, args=(in_caller_transactions if n % 2 else in_own_transactions, n))
               for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with sessions() as session:
        verdict = verify_chain(session)
        assert verdict.intact and verdict.entries == threads * per_thread
        request_ids = session.scalars(select(AccessRecord.request_id)).all()
    assert len(set(request_ids)) == threads * per_thread


def test_record_access_commits_its_companion_work_with_the_entry(sessions: sessionmaker[Session]) -> None:
    def store_answer(session: Session) -> None:
        append_access(session, _entry("f" * 64, 1))  # any write of the caller's; here: another entry

    head = record_access(sessions, _entry("f" * 64, 2), alongside=store_answer)
    assert head.seq == 2

    def failing(session: Session) -> None:
        append_access(session, _entry("f" * 64, 3))
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError):
        record_access(sessions, _entry("f" * 64, 4), alongside=failing)
    with sessions() as session:
        assert verify_chain(session).entries == 2


def test_a_write_ahead_entry_is_committed_and_leaves_the_connection_durable_again(
        sessions: sessionmaker[Session], live: Catalog) -> None:
    """The write-ahead entry's commit skips the wait for the disk for that transaction only: the
    entry is committed with what `decide` wrote, and the next transaction on the same pooled
    connection commits with the database's full durability again."""
    def decide(session: Session) -> AccessEntry:
        grant_consent(session, live, "d" * 64, ConsentRequest(
            "PUBLIC_RENTAL_HOUSING", ["NO_HOUSING"], "ZJ", 30), channel=Channel.ONLINE)
        return _entry("d" * 64, 1)

    with sessions() as session:
        before = _durability(session)
    head = record_decided_access(sessions, decide, write_ahead=True)
    with sessions() as session:
        assert _durability(session) == before
        assert chain_head(session) == head
        assert session.scalar(select(AccessRecord.subject_key).where(AccessRecord.seq == head.seq)) == "d" * 64
        assert len(list_consents(session, "d" * 64)) == 1


def _durability(session: Session) -> str:
    if session.get_bind().dialect.name == "sqlite":
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        return str(session.execute(text("PRAGMA synchronous")).scalar())
    return str(session.execute(text("SHOW synchronous_commit")).scalar())


def test_a_head_made_durable_is_on_disk_with_every_write_ahead_entry_before_it(
        sessions: sessionmaker[Session], database_url: str) -> None:
    """A write-ahead entry's commit does not wait for the disk. Before the exchange signs a head
    naming it, the log is made durable: the database's write-ahead log is flushed past the entry's
    commit, so a crash cannot lose an entry a signed head names (an auditor holding that head
    would find the log cut)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's relaxed commit survives a crash of the process; only PostgreSQL defers the write")
    from exchange.access_log_heads import make_durable

    engine = sessions.kw["bind"]

    def wal_writer_delay(setting: str) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"ALTER SYSTEM {setting}"))
            connection.execute(text("SELECT pg_reload_conf()"))

    wal_writer_delay("SET wal_writer_delay = '10s'")  # else the WAL writer may flush the entry at once
    try:
        time.sleep(0.3)
        for attempt in range(1, 11):  # another test's commit on the run's shared server may flush it first
            head = record_decided_access(sessions, lambda session: _entry("e" * 64, attempt), write_ahead=True)
            with engine.connect() as connection:
                written = connection.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
                lagging = connection.execute(text("SELECT pg_current_wal_flush_lsn() < :lsn"),
                                             {"lsn": written}).scalar()
            if lagging:
                break
        make_durable(engine, head)
        with engine.connect() as connection:
            flushed = connection.execute(text("SELECT pg_current_wal_flush_lsn() >= :lsn"), {"lsn": written}).scalar()
    finally:
        wal_writer_delay("RESET wal_writer_delay")
    assert lagging, "the entry's commit was flushed at once: the test shows nothing"
    assert flushed


def test_a_head_made_durable_once_is_not_written_again(sessions: sessionmaker[Session], database_url: str) -> None:
    """Anyone may fetch the signed head, as often as they like: only a head newer than the last one
    made durable costs a write; fetching the same head again writes nothing."""
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL writes to make a head durable")
    from exchange.access_log_heads import make_durable

    engine = sessions.kw["bind"]

    def row_version(seq: int) -> str:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT xmin FROM access_log WHERE seq = :seq"), {"seq": seq}).scalar())

    first = record_decided_access(sessions, lambda session: _entry("e" * 64, 1), write_ahead=True)
    inserted = row_version(first.seq)
    make_durable(engine, first)
    made_durable = row_version(first.seq)
    for _ in range(3):
        make_durable(engine, first)
    assert made_durable != inserted and row_version(first.seq) == made_durable

    second = record_decided_access(sessions, lambda session: _entry("f" * 64, 2), write_ahead=True)
    inserted = row_version(second.seq)
    make_durable(engine, second)
    make_durable(engine, first)
    assert row_version(second.seq) != inserted and row_version(first.seq) == made_durable
