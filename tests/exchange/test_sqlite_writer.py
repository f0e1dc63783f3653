"""Writers on SQLite queue on a file lock beside the database (core.sqlite_writer): a step holds it
from its start to its end, another process can take it the moment the step ends, and a step that
fails releases it too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from api.database import make_engine, make_session_factory
from core.sqlite_writer import LOCK_SUFFIX
from exchange.unit_of_work import UnitOfWork

_TRY_LOCK = ("import fcntl, os, sys; d = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.flock(d, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    print('held')\n"
             "else:\n    print('free')")


def _seen_by_another_process(lock_file: Path) -> str:
    """'held' or 'free': whether another process finds the writer lock taken."""
    return subprocess.run([sys.executable, "-c", _TRY_LOCK, str(lock_file)], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def uow(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'writer.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    yield UnitOfWork(make_session_factory(engine))
    engine.dispose()


def test_a_step_holds_the_writer_lock_until_it_commits(uow: UnitOfWork, tmp_path: Path) -> None:
    lock_file = Path(f"{tmp_path / 'writer.db'}{LOCK_SUFFIX}")
    with uow.step("count") as session:
        assert _seen_by_another_process(lock_file) == "held"
        session.execute(text("UPDATE counter SET n = n + 1"))
    assert _seen_by_another_process(lock_file) == "free"
    with uow.read() as session:
        assert session.scalar(text("SELECT n FROM counter")) == 1


def test_a_failed_step_releases_the_writer_lock_and_writes_nothing(uow: UnitOfWork, tmp_path: Path) -> None:
    lock_file = Path(f"{tmp_path / 'writer.db'}{LOCK_SUFFIX}")
    with pytest.raises(RuntimeError), uow.step("count") as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
        raise RuntimeError("the step fails")
    assert _seen_by_another_process(lock_file) == "free"
    with uow.step("count again") as session:  # the same process takes it again
        session.execute(text("UPDATE counter SET n = n + 1"))
    with uow.read() as session:
        assert session.scalar(text("SELECT n FROM counter")) == 1


def test_a_step_kept_waiting_names_the_code_that_holds_the_lock(uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A thread that waits its whole time for another thread of its process falls back to
    SQLite's own lock, and the operator's log says where the holder is: the one clue to a step
    held open too long, which otherwise only shows as requests answered seconds apart."""
    import threading

    from core import sqlite_writer

    monkeypatch.setattr(sqlite_writer, "THREAD_WAIT_SECONDS", 0.2)
    holding, release = threading.Event(), threading.Event()

    def a_step_held_open() -> None:
        with uow.step("held"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=a_step_held_open)
    holder.start()
    assert holding.wait(10)
    threading.Timer(1.0, release.set).start()  # the holder commits a while after the wait ran out
    with caplog.at_level("WARNING", logger="core.sqlite_writer"):
        with uow.step("waiting") as session:  # queued on SQLite's own lock meanwhile
            session.execute(text("UPDATE counter SET n = n + 1"))
    holder.join()
    with uow.read() as session:
        assert session.execute(text("SELECT n FROM counter")).scalar() == 1
    [warning] = [record.getMessage() for record in caplog.records if record.name == "core.sqlite_writer"]
    assert "a_step_held_open" in warning and "0.2" in warning, warning
