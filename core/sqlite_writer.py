"""One writer at a time on SQLite, queued by the operating system rather than by SQLite's busy handler.

SQLite lets one transaction write at a time. A second writer waits in SQLite's busy handler, which
polls with sleeps growing to 100 ms, and a transaction that read before another writer committed
cannot write at all (`SQLITE_BUSY_SNAPSHOT`): it must start again. With a few concurrent writers
(two server workers and the jobs) that waiting was most of an exchange request's time.

`begin_write` makes a transaction a writer from its start: it takes an exclusive `flock` on a file
beside the database (`<database>-writer.lock`; the kernel wakes the next waiter the moment it is
released, across processes, and releases it when a process dies), then `BEGIN IMMEDIATE`. The file
lock is released when the connection goes back to the pool, after its commit or rollback. Within
a process, threads queue on a thread lock first (a file lock is held per process, not per thread).

SQLite's own lock still guarantees the single writer: a writer that does not come through here (a
nested transaction of the same thread, another program) queues on SQLite's lock as before. The file
lock only replaces polling by queuing. On other databases `begin_write` does nothing: their own
locks (an advisory lock, row locks) already wake waiters at once.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sys
import threading
import traceback

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

LOCK_SUFFIX = "-writer.lock"
THREAD_WAIT_SECONDS = 30
"""How long a thread waits for another thread of its process before it falls back to SQLite's lock."""
_HELD = "mianzheng.sqlite_writer"
"""The pool record's info key under which a connection keeps the writer lock it holds."""


class _WriterLock:
    """The writer lock of one database file in one process."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._owner: int | None = None
        self._descriptor: int | None = None

    def acquire(self) -> bool:
        """Wait for the lock; False (not taken) when this thread holds it already or another thread
        of the process kept it past `THREAD_WAIT_SECONDS`: SQLite's own lock then decides, and the
        log says where the holder is (a step held open that long is a fault to find)."""
        if self._owner == threading.get_ident():
            return False
        if not self._threads.acquire(timeout=THREAD_WAIT_SECONDS):
            _log_holder(self._path, self._owner)
            return False
        try:
            # Opened for each acquisition: a descriptor inherited across fork would share one lock.
            descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except BaseException:
                os.close(descriptor)
                raise
        except BaseException:
            self._threads.release()
            raise
        self._descriptor, self._owner = descriptor, threading.get_ident()
        return True

    def release(self) -> None:
        descriptor, self._descriptor, self._owner = self._descriptor, None, None
        if descriptor is not None:
            os.close(descriptor)  # closing the descriptor releases the flock
        self._threads.release()


def _log_holder(path: str, owner: int | None) -> None:
    frame = sys._current_frames().get(owner) if owner is not None else None
    where = "".join(traceback.format_stack(frame, limit=12)) if frame is not None else "(no thread holds it now)\n"
    _log.warning("the SQLite writer lock %s was held by another thread of this process for over %s s; "
                 "waiting on SQLite's own lock instead. The holder was at:\n%s", path, THREAD_WAIT_SECONDS,
                 where.rstrip("\n"))


_log = logging.getLogger(__name__)
_locks: dict[tuple[int, str], _WriterLock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: str) -> _WriterLock:
    key = (os.getpid(), path)  # a forked process gets locks of its own
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = _WriterLock(path)
        return lock


def begin_write(session: Session) -> Connection:
    """Start the session's transaction as SQLite's writer (see the module); call it first in a
    transaction that will write. Returns the session's connection. Elsewhere it only returns it."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return connection
    dbapi_connection = connection.connection.dbapi_connection
    database = connection.engine.url.database
    if dbapi_connection is None or dbapi_connection.in_transaction:  # type: ignore[attr-defined]
        return connection
    if database and database != ":memory:" and _HELD not in connection.connection.info:
        lock = _lock_for(os.path.abspath(database) + LOCK_SUFFIX)
        if lock.acquire():
            connection.connection.info[_HELD] = lock
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    return connection


def _release_on_checkin(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    lock = record.info.pop(_HELD, None)
    if lock is not None:
        lock.release()


# Every pool's, registered once as the module loads: a listener added to a pool while another
# thread checks a connection in fails that check-in ("deque mutated during iteration").
event.listen(Pool, "checkin", _release_on_checkin)
