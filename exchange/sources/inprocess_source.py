"""The in-process adapter: reads a department's records database directly. It is the
embedded default (no extra processes) and what the reference connector serves over HTTP."""

from __future__ import annotations

import os

from sqlalchemy.exc import SQLAlchemyError

from catalog.model import Catalog
from exchange.sources.contract import (
    SourceAnswer,
    SourceProtocolError,
    SourceUnavailable,
    SubjectNotFound,
    checked_answer,
    department_proof,
)
from exchange.sources.records import find_record, read_only_engine

RETRY_AFTER_SECONDS = 30
"""What callers are told to wait when the database cannot be read (e.g. not generated yet)."""


class InProcessSource:
    """A `Source` reading `database` (a SQLite file path or an SQLAlchemy URL)."""

    def __init__(self, department: str, database: str | os.PathLike[str], catalog: Catalog) -> None:
        self.department = department
        self._catalog = catalog
        self._engine = read_only_engine(database)
        self.waits_on_network = self._engine.dialect.name != "sqlite"

    def query(self, proof_code: str, id_number: str, name: str | None) -> SourceAnswer:
        proof = department_proof(self._catalog, self.department, proof_code)
        try:
            stored = find_record(self._engine, proof_code, id_number)
        except SQLAlchemyError as error:
            reason = f"its records database cannot be read ({type(error).__name__})"
            raise SourceUnavailable(self.department, reason, RETRY_AFTER_SECONDS) from None
        except ValueError:  # the row's record is not JSON, or its as_of not an ISO 8601 time
            raise SourceProtocolError(self.department, "its records database holds a record that is not JSON "
                                                       "or a time that is not ISO 8601") from None
        if stored is None or (name is not None and stored.subject_name not in (None, name.strip())):
            raise SubjectNotFound(self.department, proof_code)
        return checked_answer(self.department, proof, stored.as_of, stored.record, id_number)

    def close(self) -> None:
        self._engine.dispose()
