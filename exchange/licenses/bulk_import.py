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
rejected, as the API refuses it: the license issued first stays. A line that is not valid — not
UTF-8 (a byte-order mark on the first line is fine), not a JSON object within `bounded_json`'s
limits, or not a valid license — is rejected with its line number and the reason, and changes
nothing; the reason names the field at fault and repeats nothing of the line but catalog codes,
and no control character (the report is printed to a terminal).
"""

from __future__ import annotations

import re
import random
import time
from json import JSONDecodeError
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from catalog import bounded_json
from catalog.model import Subject
from exchange.errors import InvalidInput
from exchange.licenses.records import LicenseRecord
from exchange.operation_codes import Operation
from exchange.operations import Actor, record_operation
from exchange.licenses.references import MAX_REFERENCE_CHARS, reference_problem
from exchange.licenses.service import (
    IssueRequest,
    LicenseLibrary,
    HolderHoldsOne,
    NotTheIssuer,
    ReferenceInUse,
    checked_holder,
    forget_allocations,
    issue_license,
    request_digest,
    same_request,
)

DEFAULT_BATCH = 500
MAX_LINE_BYTES = 2 * 1024 * 1024
"""The longest line in UTF-8 bytes, its line break not counted: as large as a request to the API
may be (its 2 MiB body limit, counted in bytes: a character of Chinese text is three)."""
BATCH_ATTEMPTS = 5
"""How many times a batch is done before the import stops on what ended it."""


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0
    """Lines whose reference was imported before, from the same line."""
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(line number, reason) of each line that was not imported."""


_FIELDS = ("reference", "license_type", "holder", "items", "valid_from", "valid_until")
_LICENSE_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal acts on or that reorder text: never printed in a reason."""


def parse_line(text: str | bytes, *, first: bool = False) -> IssueRequest:
    """One line of the export (bytes: UTF-8; the `first` may start with a byte-order mark) as an
    issue request; `InvalidInput` naming the field at fault."""
    line = text.rstrip(b"\r\n") if isinstance(text, bytes) else text.rstrip("\r\n").encode("utf-8", "surrogatepass")
    size = len(line)
    if size > MAX_LINE_BYTES:
        raise InvalidInput("line", f"has {size} bytes: more than an API request may ({MAX_LINE_BYTES})")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig" if first else "utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("line", "is not UTF-8 text") from None
    try:
        row = bounded_json.loads(text, max_chars=MAX_LINE_BYTES)
    except ValueError as error:
        detail = error.msg if isinstance(error, JSONDecodeError) else str(error)
        raise InvalidInput("line", f"not JSON ({detail})") from None
    if not isinstance(row, dict):
        raise InvalidInput("line", "must be a JSON object")
    for path in bounded_json.unusable_json_strings(row):  # as the API refuses them
        raise InvalidInput(".".join(path) or "line", bounded_json.UNUSABLE_DETAIL)
    if set(row) - set(_FIELDS):
        raise InvalidInput("line", f"has a field other than {', '.join(_FIELDS)}")
    for name in ("reference", "license_type"):
        if not isinstance(row.get(name), str) or not row[name] or len(row[name]) > MAX_REFERENCE_CHARS:
            raise InvalidInput(name, f"required: a string of 1-{MAX_REFERENCE_CHARS} characters")
    if (problem := reference_problem(row["reference"])) is not None:
        raise InvalidInput("reference", problem)
    if not _LICENSE_TYPE.fullmatch(row["license_type"]):
        raise InvalidInput("license_type", "must be a license type code such as MARRIAGE_CERTIFICATE")
    holder = row.get("holder")
    if not isinstance(holder, dict) or not isinstance(holder.get("name"), str) or not holder["name"]:
        raise InvalidInput("holder.name", "required")
    if ("id_number" in holder) == ("uscc" in holder):
        raise InvalidInput("holder", "give exactly one of id_number and uscc")
    kind, key = (Subject.PERSON, "id_number") if "id_number" in holder else (Subject.ORGANISATION, "uscc")
    if not isinstance(holder[key], str) or not holder[key]:
        raise InvalidInput(f"holder.{key}", "required: a string")
    identity = checked_holder(kind, holder["name"], holder[key])
    return IssueRequest(license_type=row["license_type"], holder=identity, items=_items(row.get("items")),
                        reference=row["reference"], valid_from=_date(row, "valid_from"),
                        valid_until=_date(row, "valid_until"))


def import_lines(sessions: sessionmaker[Session], library: LicenseLibrary, department: str,
                 lines: Iterable[str | bytes], *, actor: Actor,
                 batch: int = DEFAULT_BATCH, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import the export `lines` of `department` (see the module docstring), committing each
    `batch` of lines in one transaction, with an entry of the access log's chain saying how many
    licenses `actor` issued from which lines. When a concurrent issue collides with the batch (a
    reference issued meanwhile), or the database ends it (two imports of one department that
    meet its license types in another order deadlock on their serial counters), the batch is
    rolled back and done again line by line, up to `BATCH_ATTEMPTS` times."""
    report = ImportReport()
    with sessions() as session:
        done = _references(session, department)
        for chunk in _chunks(enumerate(lines, start=1), batch):
            for attempt in range(BATCH_ATTEMPTS):
                try:
                    outcome = _import_chunk(session, library, department, chunk, done, careful=attempt > 0)
                    if outcome.imported:
                        record_operation(session, Operation.LICENSES_IMPORTED, actor,
                                         f"{chunk[0][0]}-{chunk[-1][0]}", department=department,
                                         detail=str(outcome.imported))
                    session.commit()
                    break
                except (IntegrityError, OperationalError):  # a reference issued meanwhile; a deadlock, a lock wait
                    session.rollback()
                    forget_allocations(session)
                    if attempt == BATCH_ATTEMPTS - 1:
                        raise
                    time.sleep(random.uniform(0.05, 0.25) * (attempt + 1))  # the survivor of a deadlock takes the
                    # locks it waited for first: a retry at once could take them back and deadlock again
                    done = _references(session, department)
            report.imported += outcome.imported
            report.skipped += outcome.skipped
            report.rejected += outcome.rejected
            if progress is not None:
                progress(len(chunk))
    return report


def _import_chunk(session: Session, library: LicenseLibrary, department: str, chunk: list[tuple[int, str | bytes]],
                  done: dict[str, str | None], *, careful: bool) -> ImportReport:
    outcome = ImportReport()
    for number, text in chunk:
        if not text.strip():
            continue
        try:
            request = parse_line(text, first=number == 1)
            digest = request_digest(library.hash_key, request)
            if request.reference in done:
                if not same_request(done[request.reference], digest):
                    raise ReferenceInUse(request.reference)
                outcome.skipped += 1
                continue
            issued = issue_license(session, library, department, request, None, savepoint=careful)
        except InvalidInput as invalid:
            outcome.rejected.append((number, _printable(str(invalid))))
            continue
        except NotTheIssuer as refused:
            outcome.rejected.append((number, _printable(f"license_type: {refused}")))
            continue
        except ReferenceInUse as reused:
            outcome.rejected.append((number, _printable(f"reference: {reused}")))
            continue
        except HolderHoldsOne as held:
            outcome.rejected.append((number, _printable(f"holder: {held}")))
            continue
        done[request.reference] = digest
        if issued.created:
            outcome.imported += 1
        else:  # issued meanwhile by the department's own system: its license is the one kept
            outcome.skipped += 1
    return outcome


def _printable(reason: str) -> str:
    return _CONTROL.sub("?", reason)


def _chunks(numbered: Iterable[tuple[int, str | bytes]], size: int) -> Iterator[list[tuple[int, str | bytes]]]:
    chunk: list[tuple[int, str | bytes]] = []
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
