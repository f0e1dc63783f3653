"""A source department's own records database: one generic table of records, one per
(proof, subject), and a small table describing the dataset.

This is the department's system, not the exchange's: each department has its own database
(by default a SQLite file per department, `<folder>/<DEPT>.db`; any SQLAlchemy URL works),
described by its own metadata rather than `core.orm.Base`, and its schema is created
with `metadata.create_all` when the data is written, not by the exchange's migrations.

    records(proof_code, subject_id, subject_name, record, as_of)   primary key (proof_code, subject_id)

`subject_id` is the citizen ID number, or the credit code for a proof about an
organisation; `subject_name` the name the department holds (checked when a query names the
subject); `record` the JSON object of data items (values.py); `as_of` ISO 8601 with offset.
A subject has at most one record per proof (e.g. the latest title deed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, Text, bindparam, create_engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from core.private_files import private_dir, private_file

metadata = MetaData()

records_table = Table(
    "records",
    metadata,
    Column("proof_code", String(64), primary_key=True),
    Column("subject_id", String(32), primary_key=True),
    Column("subject_name", String(200), nullable=True),
    Column("record", Text, nullable=False),
    Column("as_of", String(40), nullable=False),
)

dataset_table = Table(
    "dataset",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


@dataclass(frozen=True)
class StoredRecord:
    """One record as the department stores it."""

    proof_code: str
    subject_id: str
    subject_name: str | None
    record: Mapping[str, Any]
    as_of: datetime


def department_database(folder: Path, department: str) -> Path:
    """The SQLite file of `department`'s records in `folder`."""
    return folder / f"{department}.db"


def read_only_engine(database: str | os.PathLike[str]) -> Engine:
    """An engine reading a department's records: a SQLite file path is opened read-only (a
    missing file is an error on first use, never created empty); a URL is used as given."""
    if isinstance(database, os.PathLike) or "://" not in database:
        path = Path(database).resolve()
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"timeout": 10})
    return create_engine(database, pool_pre_ping=True)


def find_record(engine: Engine, proof_code: str, subject_id: str) -> StoredRecord | None:
    """The record of `subject_id` for `proof_code`, or None."""
    with engine.connect() as connection:
        row = connection.execute(_FIND_RECORD, {"proof_code": proof_code, "subject_id": subject_id}).first()
    if row is None:
        return None
    return StoredRecord(
        proof_code=row.proof_code,
        subject_id=row.subject_id,
        subject_name=row.subject_name,
        record=json.loads(row.record),
        as_of=datetime.fromisoformat(row.as_of),
    )


_FIND_RECORD = select(records_table).where(records_table.c.proof_code == bindparam("proof_code"),
                                           records_table.c.subject_id == bindparam("subject_id"))
"""`find_record`'s statement, built once: every pull runs it."""


class RecordsDatabaseWriter:
    """Writes a complete SQLite records database for `path`, beside it, in batches (`add`), and
    puts it in place at once when the `with` block ends without an error, so readers never see
    a half-written database; on an error the partial file is removed and `path` is untouched.
    One transaction without a journal: memory stays that of one batch, whatever the size."""

    def __init__(self, path: Path, dataset: Mapping[str, str]) -> None:
        self.path = path
        self.dataset = dict(dataset)
        self.partial = path.with_name(path.name + ".partial")
        self.written = 0

    def __enter__(self) -> RecordsDatabaseWriter:
        private_dir(self.path.parent)  # the records are personal data
        self.partial.unlink(missing_ok=True)
        self._engine = create_engine(f"sqlite:///{self.partial}")
        self._connection = self._engine.connect()
        private_file(self.partial)
        self._transaction = self._connection.begin()
        self._connection.exec_driver_sql("PRAGMA journal_mode=OFF")
        metadata.create_all(self._connection)
        self._connection.execute(insert(dataset_table), [{"key": k, "value": v} for k, v in self.dataset.items()])
        return self

    def add(self, records: Iterable[StoredRecord]) -> None:
        rows = [_row(record) for record in records]
        if rows:
            self._connection.exec_driver_sql(  # the DB-API directly: ten times faster for bulk rows
                "INSERT INTO records (proof_code, subject_id, subject_name, record, as_of) VALUES (?, ?, ?, ?, ?)", rows)
            self.written += len(rows)

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        done = False
        try:
            if error_type is None:
                self._transaction.commit()  # may fail itself (a full disk): the partial file goes all the same
                os.replace(self.partial, self.path)
                done = True
            else:
                self._transaction.rollback()
        finally:
            self._connection.close()
            self._engine.dispose()
            if not done:
                self.partial.unlink(missing_ok=True)


def read_dataset(path: Path) -> dict[str, str] | None:
    """The dataset description of the SQLite records file at `path`, or None if there is
    no such file or it is not a records database."""
    if not path.is_file():
        return None
    engine = read_only_engine(path)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(dataset_table.c.key, dataset_table.c.value)).all()
        return {key: value for key, value in rows}
    except SQLAlchemyError:  # not a database, or one without our tables
        return None
    finally:
        engine.dispose()


def _row(record: StoredRecord) -> tuple[str, str, str | None, str, str]:
    document = json.dumps(record.record, ensure_ascii=False, separators=(",", ":"))
    return record.proof_code, record.subject_id, record.subject_name, document, record.as_of.isoformat()
