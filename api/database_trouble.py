"""What is wrong with a database that failed, read from its driver's words, so an operator is told
what to do about it: a server that cannot be reached or refuses the login, a PostgreSQL database
not created, an SQLite file that cannot be opened (its folder missing), one never initialised,
or storage that cannot be written (read-only, full, failing). The command
line says it in Chinese (`api.cli`), `/readyz` in its problem's detail."""

from __future__ import annotations

import re
from enum import Enum

from sqlalchemy import make_url


class DatabaseTrouble(Enum):
    UNREACHABLE = "unreachable"
    LOGIN_REFUSED = "login_refused"
    FILE_UNOPENED = "file_unopened"
    MISSING = "missing"
    UNINITIALISED = "uninitialised"
    READ_ONLY = "read_only"
    FULL = "full"
    STORAGE_ERROR = "storage_error"
    UNAVAILABLE = "unavailable"


_SAID = (  # the first found wins: a missing database's message also says the connection failed
    (DatabaseTrouble.READ_ONLY, ("readonly database",)),
    (DatabaseTrouble.FULL, ("database or disk is full",)),
    (DatabaseTrouble.STORAGE_ERROR, ("disk I/O error",)),
    (DatabaseTrouble.MISSING, (re.compile(r'database "[^"]*" does not exist'),)),
    (DatabaseTrouble.LOGIN_REFUSED, (re.compile(r'role "[^"]*" does not exist'), "password authentication failed",
                                     "no password supplied", "no pg_hba.conf entry")),
    (DatabaseTrouble.UNINITIALISED, ("no such table", re.compile(r'relation "[^"]*" does not exist'))),
    (DatabaseTrouble.FILE_UNOPENED, ("unable to open database file",)),
    (DatabaseTrouble.UNREACHABLE, ("Connection refused", "could not connect", "connection failed", "timeout expired",
                                   "could not translate host name", "server closed the connection",
                                   "No route to host")),
)


def database_trouble(error: BaseException) -> DatabaseTrouble:
    """The kind of `error` (a SQLAlchemy error, or its driver's)."""
    said = str(getattr(error, "orig", None) or error)
    for kind, words in _SAID:
        if any(word.search(said) if isinstance(word, re.Pattern) else word in said for word in words):
            return kind
    return DatabaseTrouble.UNAVAILABLE


def where(database_url: str) -> tuple[str, str]:
    """The server (host:port, or the file) and the database name of a URL, without its password."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return url.database or "", url.database or ""
    return f"{url.host or 'localhost'}:{url.port or 5432}", url.database or ""
