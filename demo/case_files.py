"""Case files at a city's size, for benchmarks and the growth tests: `copy_applications` copies
every application an installation holds, with its proof items, case claim, commitments and
consents, as many times as asked, in a few INSERT … SELECT statements (SQLite and PostgreSQL
alike). Each copy gets identifiers and keys of its own, so it belongs to nobody filing now: the
n-th copy of a value drops six characters from its front and adds `~1nnnn` at its end: the
column keeps its width, and no two copies meet as long as the values copied differ after their
sixth character (record ids do; name request ids and case numbers so). A copy's sealed values
stay bound to its original, so no one reads a copy: its commitments are copied as checked
(`confirmed`), and the jobs' 事后核查 leaves them alone, as an old case file's. Nor does the
access log record a copy's consents: no department pulls on them, and `audit verify` counts them
among the rows the chain does not back. Copy decided applications only, and grow a throwaway
database only."""

from __future__ import annotations

from sqlalchemy import Connection, Insert, Integer, String, Table, cast, func, insert, literal, select, true

from exchange.applications.records import (Application, ApplicationCase, ApplicationItem, CommitmentRecord,
                                           CommitmentStatus)
from exchange.consent import Consent

COPIED: dict[Table, tuple[str, ...]] = {
    Application.__table__: ("id", "request_id", "case_number", "applicant_key", "about_key"),
    ApplicationItem.__table__: ("application_id",),
    ApplicationCase.__table__: ("case_number", "application_id"),
    CommitmentRecord.__table__: ("id", "application_id", "subject_key"),
    Consent.__table__: ("id", "application_id", "subject_key"),
}
"""The tables copied, and the columns each copy rewrites: its own identifiers and whose it is."""
SETTLED = {CommitmentRecord.__table__: {"status": CommitmentStatus.CONFIRMED.value}}
"""What a copy states otherwise than its original: nothing left for the jobs to do."""
MOST_COPIES = 89_999
"""`~1nnnn` .. `~9nnnn`: as many copies as the suffix tells apart."""


def copy_applications(connection: Connection, copies: int) -> None:
    """`copies` copies of every application held now (in the caller's transaction)."""
    if not 0 < copies <= MOST_COPIES:
        raise ValueError(f"copies must be between 1 and {MOST_COPIES:,}")
    for table, keys in COPIED.items():
        connection.execute(_copies(table, keys, copies))


def _copies(table: Table, keys: tuple[str, ...], copies: int) -> Insert:
    numbers = select(literal(1).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < copies))
    columns = [column for column in table.columns if not (column.primary_key and isinstance(column.type, Integer))]
    settled = SETTLED.get(table, {})
    copied = [func.substr(column, 7, type_=column.type).concat("~").concat(cast(numbers.c.n + 10000, String))
              if column.name in keys else literal(settled[column.name], column.type) if column.name in settled
              else column for column in columns]
    return insert(table).from_select([column.name for column in columns],
                                     select(*copied).select_from(table.join(numbers, true())))
