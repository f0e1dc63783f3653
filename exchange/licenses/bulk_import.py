"""Bulk import of a department's existing licenses (存量证照) from its export, one JSON object
per line (JSONL):

    {"reference": "MZ-2019-000123", "license_type": "MARRIAGE_CERTIFICATE",
     "holder": {"name": "王萱", "id_number": "330784197608084585"},
     "items": {...every data item of the type...}, "valid_from": "2019-05-20", "valid_until": null}

`holder` names a person by `id_number` or an organisation by `uscc`; `valid_from` (default: the
import time) and `valid_until` (only for types whose validity is `stated`) are dates.

Each line is issued like an API request (`service.issue_license`): the department's own
`reference` makes it idempotent, so a re-run skips what is already there and an interrupted
import resumes where it stopped (it commits every `batch` lines). A reference the department's
own system issued while the import ran is skipped too, and counted as skipped. A line whose
reference names a license issued from another request (another holder, items or validity) is
rejected, as the API refuses it: the license issued first stays. A line that is not valid is
rejected with its line number and the reason, and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from catalog.model import Subject
from exchange.errors import InvalidInput
from exchange.licenses.records import LicenseRecord
from exchange.licenses.service import (
    IssueRequest,
    LicenseLibrary,
    NotTheIssuer,
    ReferenceInUse,
    checked_holder,
    forget_allocations,
    issue_license,
    request_digest,
    same_request,
)

DEFAULT_BATCH = 500


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    """Lines whose reference was imported before, from the same line."""
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(line number, reason) of each line that was not imported."""


def parse_line(text: str) -> IssueRequest:
    """One line of the export as an issue request; `InvalidInput` naming the field at fault."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput("line", f"not JSON ({error.msg})") from None
    if not isinstance(row, dict):
        raise InvalidInput("line", "must be a JSON object")
    unknown = sorted(set(row) - {"reference", "license_type", "holder", "items", "valid_from", "valid_until"})
    if unknown:
        raise InvalidInput(unknown[0], "unknown field")
    for name in ("reference", "license_type"):
        if not isinstance(row.get(name), str) or not row[name] or len(row[name]) > 128:
            raise InvalidInput(name, "required: a string of 1-128 characters")
    holder = row.get("holder")
    if not isinstance(holder, dict) or not isinstance(holder.get("name"), str) or not holder["name"]:
        raise InvalidInput("holder.name", "required")
    if ("id_number" in holder) == ("uscc" in holder) or not isinstance(holder.get("id_number", holder.get("uscc")), str):
        raise InvalidInput("holder", "give exactly one of id_number and uscc")
    kind = Subject.PERSON if "id_number" in holder else Subject.ORGANISATION
    identity = checked_holder(kind, holder["name"], holder.get("id_number") or holder["uscc"])
    return IssueRequest(license_type=row["license_type"], holder=identity, items=_items(row.get("items")),
                        reference=row["reference"], valid_from=_date(row, "valid_from"),
                        valid_until=_date(row, "valid_until"))


def import_lines(sessions: sessionmaker[Session], library: LicenseLibrary, department: str, lines: Iterable[str], *,
                 batch: int = DEFAULT_BATCH, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import the export `lines` of `department` (see the module docstring), committing each
    `batch` of lines in one transaction. When a concurrent issue collides with the batch (a
    reference issued meanwhile), the batch is rolled back and done again line by line."""
    report = ImportReport()
    with sessions() as session:
        done = _references(session, department)
        for chunk in _chunks(enumerate(lines, start=1), batch):
            try:
                outcome = _import_chunk(session, library, department, chunk, done, careful=False)
                session.commit()
            except IntegrityError:
                session.rollback()
                forget_allocations(session)
                done = _references(session, department)
                outcome = _import_chunk(session, library, department, chunk, done, careful=True)
                session.commit()
            report.imported += outcome.imported
            report.skipped += outcome.skipped
            report.rejected += outcome.rejected
            if progress is not None:
                progress(len(chunk))
    return report


def _import_chunk(session: Session, library: LicenseLibrary, department: str, chunk: list[tuple[int, str]],
                  done: dict[str, str | None], *, careful: bool) -> ImportReport:
    outcome = ImportReport()
    for number, text in chunk:
        if not text.strip():
            continue
        try:
            request = parse_line(text)
            digest = request_digest(library.hash_key, request)
            if request.reference in done:
                if not same_request(done[request.reference], digest):
                    raise ReferenceInUse(request.reference)
                outcome.skipped += 1
                continue
            issued = issue_license(session, library, department, request, savepoint=careful)
        except InvalidInput as invalid:
            outcome.rejected.append((number, str(invalid)))
            continue
        except NotTheIssuer as refused:
            outcome.rejected.append((number, f"license_type: {refused}"))
            continue
        except ReferenceInUse as reused:
            outcome.rejected.append((number, f"reference: {reused}"))
            continue
        done[request.reference] = digest
        if issued.created:
            outcome.imported += 1
        else:  # issued meanwhile by the department's own system: its license is the one kept
            outcome.skipped += 1
    return outcome


def _chunks(numbered: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for pair in numbered:
        chunk.append(pair)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _references(session: Session, department: str) -> dict[str, str | None]:
    """The department's references issued so far, with the digests of the requests they were issued from."""
    rows = session.execute(select(LicenseRecord.reference, LicenseRecord.request_digest)
                           .where(LicenseRecord.issuer_department == department))
    return {reference: digest for reference, digest in rows}


def _items(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("items", "required: an object of data items")
    return value


def _date(row: dict[str, Any], name: str) -> date | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> date:
    raise InvalidInput(name, "must be a date YYYY-MM-DD or null")
