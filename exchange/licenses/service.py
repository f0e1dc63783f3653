"""Issuing, amending and revoking licenses, and reading a holder's library.

Departments' systems issue the licenses of the types the catalog says they issue. Each version
is a credential (`credential.py`) signed by the department's seal, with its own identifier and
its own entry in a license status list (the `licenses` kind of `exchange.status_lists`: list 2,
beside the certificates' list 1, then as many further lists as the versions fill; each derived
from `license_versions`, signed again under its lock by each amendment and revocation of a
version it holds). Amending issues the next version and sets the old one's
entry with the reason `superseded`; revoking sets the current version's entry. So every form made of a version — the credential, a presentation, a usage
copy — turns invalid with it, and the status list tells a verifier why.

Services take a `Session` and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Select, bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.validity import lapsed
from catalog.citizen_id import parse_id_number
from catalog.city_time import BEIJING
from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Catalog, ItemType, LicenseType, Subject
from core.canonical import canonical_json
from core.clock import Clock, utc_now
from exchange.certificates.identifiers import MAX_VERSION
from exchange.certificates.model import StatusEntry
from exchange.certificates.status_list import REVOCATION_REASONS
from exchange.counters import next_value
from exchange.errors import ExchangeError, InvalidInput, NotFound
from exchange.access_log import AccessRecord, operation_entries
from exchange.keyring import RecordCipher
from exchange.operation_codes import Operation
from exchange.operations import Actor, record_operation, revocation_detail
from exchange.license_certificates import revoke_certificates_read_from
from exchange.licenses.content import (
    VALIDITY_ITEMS,
    HeldBy,
    HolderIdentity,
    LicenseContent,
    build_license_content,
    ended_state,
    item_problems,
    recorded_ahead,
    unprintable,
    validity_window,
)
from exchange.licenses.credential import content_of_own, sign_license
from exchange.licenses.records import LicenseRecord, LicenseState, LicenseVersionRecord
from exchange.status_lists import (StatusListKind, StatusListSigning, allocate_entry, lock_status_list,
                                   rebuild_status_list, sign_locked_list)
from exchange.sources.values import EARLIEST_DATE, parse_offset_datetime
from exchange.subjects import organisation_key, subject_key
from exchange.unit_of_work import locked_row
from seals.compromise import compromised_seals
from seals.registry import held_signer
from seals.keys import Signer
from seals.settings import SealSettings

LICENSE_STATUS_LIST_SIZE = 1_048_576
"""Entries of each license status list (128 KiB); the next list opens when one is full."""
_ATTEMPTS = 4
_SIGNERS = "license_signers"  # session.info key


def _set_license_entries(session: Session, list_id: int) -> Iterable[tuple[int, str | None]]:
    return session.execute(select(LicenseVersionRecord.status_index, LicenseVersionRecord.revocation_reason).where(
        LicenseVersionRecord.status_list == list_id,
        LicenseVersionRecord.status.in_([LicenseState.REVOKED.value, LicenseState.SUPERSEDED.value]))).all()


def _license_holds(session: Session, list_id: int, index: int) -> bool:
    return session.scalar(select(LicenseVersionRecord.id).where(LicenseVersionRecord.status_list == list_id,
                                                                LicenseVersionRecord.status_index == index)
                          .limit(1)) is not None


LICENSES = StatusListKind("licenses", 2, LICENSE_STATUS_LIST_SIZE, _set_license_entries, _license_holds,
                          Operation.LICENSE_REVOKED)
"""The license status lists: list 2, then as many as the versions fill; set for revoked and
superseded versions."""


class NotTheIssuer(ExchangeError):
    """The department does not issue this license type, or did not issue this license."""


class LicenseNotFound(NotFound):
    """No such license version (or not visible to the caller)."""


class LicenseConflict(ExchangeError):
    """The license changed meanwhile: it is revoked, or the version named is no longer current."""


class LicenseReplaced(LicenseConflict):
    """The license no longer states its holder's proof: a later one does (`REPLACED`)."""

    def __init__(self, name_zh: str, later_name_zh: str, proof_zh: str) -> None:
        self.name_zh, self.later_name_zh, self.proof_zh = name_zh, later_name_zh, proof_zh
        super().__init__(f"this {name_zh} no longer states its holder's {proof_zh}: a {later_name_zh} registered "
                         "later does, so it is neither shown nor sealed again")


class HolderHoldsOne(LicenseConflict):
    """The holder already has a license of a one-per-holder type that is not revoked (amend it)."""


class LastVersion(LicenseConflict):
    """The license is at the last version its identifier has room for: revoke it and issue a new one."""


class ReferenceInUse(LicenseConflict):
    """The department's `reference` names a license it issued from another request (another
    holder, type, items or validity): nothing is issued, and the license named stays as it was."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"{reference} names a license issued with other content; "
                         "give this license a reference of its own")


@dataclass(frozen=True)
class LicenseLibrary:
    """What the license services need of the installation."""

    catalog: Catalog
    seal_settings: SealSettings
    hash_key: bytes = field(repr=False)
    box: RecordCipher
    status_list: StatusListSigning
    clock: Clock = utc_now
    lists: StatusListKind = LICENSES
    """The kind of status lists versions take their entries from (a smaller capacity in tests)."""


@dataclass(frozen=True)
class IssueRequest:
    """A department's request to issue one license; `reference` is its own record id."""

    license_type: str
    holder: HolderIdentity
    items: Mapping[str, Any]
    reference: str
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class Issued:
    license: LicenseRecord
    version: LicenseVersionRecord
    created: bool
    """False when the reference was already issued: the existing license is returned unchanged."""


def holder_key(hash_key: bytes, kind: Subject, number: str) -> str:
    """The keyed hash a holder is stored under: the subject key of a person, of "uscc:<code>" for an organisation."""
    if kind is Subject.PERSON:
        return subject_key(hash_key, number)
    return organisation_key(hash_key, number)


MAX_HOLDER_NAME = 100
"""The longest holder name a license takes (a person's or an organisation's)."""


def checked_holder(kind: Subject, name: str, number: str) -> HolderIdentity:
    """The holder, its name's length and its number validated (`InvalidInput` naming holder.name,
    holder.id_number or holder.uscc)."""
    if len(name) > MAX_HOLDER_NAME:
        raise InvalidInput("holder.name", f"must have at most {MAX_HOLDER_NAME} characters")
    if kind is Subject.PERSON:
        try:
            return HolderIdentity(kind, name, parse_id_number(number).number)
        except InvalidIdentifier as error:
            raise InvalidInput("holder.id_number", str(error)) from None
    try:
        code = parse_uscc(number).code
    except InvalidIdentifier as error:
        raise InvalidInput("holder.uscc", str(error)) from None
    return HolderIdentity(kind, name, code)


def issue_license(session: Session, library: LicenseLibrary, department: str, request: IssueRequest,
                  actor: Actor | None, *, savepoint: bool = True) -> Issued:
    """Issue version 1 of a license of `department`, or, for a retry of the request that issued the
    license its `reference` names, return that one; `ReferenceInUse` when the reference names a
    license issued from another request. The issue by `actor` is an entry of the access log's
    chain; with no actor the caller records it (a bulk import, once for each batch).

    Serials and status entries come from atomic counters (`exchange.counters`, `exchange.status_lists`).
    With `savepoint` (the default) a collision with a concurrent issue of the same reference
    is retried in a savepoint; without, `IntegrityError` reaches the caller, who rolls back (bulk
    import: a savepoint per row would commit each row on SQLite)."""
    license_type = _issuable_type(library.catalog, department, request.license_type)
    if request.holder.kind is not license_type.holder:
        raise InvalidInput("holder", f"a {license_type.name_zh} is held by a {license_type.holder.label_zh}")
    if problem := unprintable(request.holder.name):
        raise InvalidInput("holder.name", problem)
    digest = request_digest(library.hash_key, request)
    existing = _by_reference(session, department, request.reference)
    if existing is not None:
        return _issued_before(session, existing, request.reference, digest)
    _check_items(license_type, request.items)
    _check_holder_items(request.holder, request.items)
    _check_standing(license_type, request.items)
    if request.holder.kind is Subject.PERSON:
        holder_number = request.holder.number.upper()
        _check_others(license_type, request.items, lambda number: number.upper() == holder_number)
        _check_born(license_type, request.items, parse_id_number(holder_number).birth_date)
    now = library.clock()
    starts = request.valid_from or stated_start(license_type, request.items)
    valid_from = now if starts is None else _taking_effect(starts)
    _check_stated_start(license_type, request.items, valid_from, "items.valid_from")
    _check_recorded(license_type, request.items, max(now, valid_from))
    valid_until = validity_window(license_type, valid_from, request.valid_until)
    _check_stated_end(license_type, request.items, valid_until, "items.valid_until")
    key = holder_key(library.hash_key, request.holder.kind, request.holder.number)
    _refuse_a_second(session, license_type, key)
    if not savepoint:
        issued = _issue_new(session, library, department, license_type, request, digest, now, valid_from, valid_until)
    else:
        issued = _issue_in_savepoints(session, library, department, license_type, request, digest, key,
                                      (now, valid_from, valid_until))
    if actor is not None and issued.created:
        record_operation(session, Operation.LICENSE_ISSUED, actor, issued.version.identifier, department=department,
                         detail=request.reference)
    return issued


def _issue_in_savepoints(session: Session, library: LicenseLibrary, department: str, license_type: LicenseType,
                         request: IssueRequest, digest: str, key: str,
                         times: tuple[datetime, datetime, datetime]) -> Issued:
    """`_issue_new` in a savepoint, again when a concurrent issue took the reference (then its
    license, if it was this request's)."""
    for attempt in range(_ATTEMPTS):
        try:
            with session.begin_nested():
                return _issue_new(session, library, department, license_type, request, digest, *times)
        except IntegrityError:  # a concurrent issue took the reference
            forget_allocations(session)
            if attempt == _ATTEMPTS - 1:
                raise
            again = _by_reference(session, department, request.reference)
            if again is not None:
                return _issued_before(session, again, request.reference, digest)
            _refuse_a_second(session, license_type, key)  # or one of its type issued to the holder meanwhile
    raise AssertionError("unreachable")


def _refuse_a_second(session: Session, license_type: LicenseType, key: str) -> None:
    """`HolderHoldsOne` when the type is one per holder and the holder has one not revoked."""
    if not license_type.one_per_holder:
        return
    held = session.scalars(select(LicenseRecord).where(
        LicenseRecord.license_type == license_type.code, LicenseRecord.holder_key == key,
        LicenseRecord.status == LicenseState.VALID.value)).first()
    if held is not None:
        raise HolderHoldsOne(f"the holder already holds {license_type.name_en.lower()} "
                             f"{current_version(session, held).identifier}: amend it, or revoke it first")


def request_digest(hash_key: bytes, request: IssueRequest) -> str:
    """What tells a retry of `request` from another request under the same reference: an HMAC
    (the holder's number is in it) of its canonical form."""
    form = {"license_type": request.license_type, "holder": [request.holder.kind.value, request.holder.name,
                                                              request.holder.number],
            "items": dict(request.items), "valid_from": _iso_or_none(request.valid_from),
            "valid_until": _iso_or_none(request.valid_until)}
    return hmac.new(hash_key, canonical_json(form), hashlib.sha256).hexdigest()


def same_request(stored: str | None, digest: str) -> bool:
    """Whether a license whose request digest is `stored` was issued from the request with `digest`
    (always, for a license issued before digests were kept)."""
    return stored is None or hmac.compare_digest(stored, digest)


def _issued_before(session: Session, record: LicenseRecord, reference: str, digest: str) -> Issued:
    """The license the reference names, for a retry of its request; `ReferenceInUse` otherwise."""
    if not same_request(record.request_digest, digest):
        raise ReferenceInUse(reference)
    return Issued(record, current_version(session, record), created=False)


def _iso_or_none(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _issue_new(session: Session, library: LicenseLibrary, department: str, license_type: LicenseType,
               request: IssueRequest, digest: str, now: datetime, valid_from: datetime,
               valid_until: datetime | None) -> Issued:
    serial = next_value(session, f"license-serial:{department}:{license_type.code}")
    key = holder_key(library.hash_key, request.holder.kind, request.holder.number)
    record = LicenseRecord(license_type=license_type.code, issuer_department=department, serial=serial,
                           reference=request.reference, request_digest=digest, holder_kind=license_type.holder.value,
                           holder_key=key, sole_holder_key=key if license_type.one_per_holder else None,
                           current_version=1, status=LicenseState.VALID, created_at=now)
    session.add(record)
    session.flush()
    version = _new_version(session, library, record, license_type, holder=request.holder.held_by(),
                           items=request.items, supersedes=None, now=now, valid_from=valid_from,
                           valid_until=valid_until)
    return Issued(record, version, created=True)


def forget_allocations(session: Session) -> None:
    """Drop the session's signers (after a rollback or a collision)."""
    session.info.pop(_SIGNERS, None)


def _signer(session: Session, library: LicenseLibrary, department: str) -> Signer:
    """The department's signer for the transaction, its seal held to the end of it
    (`held_signer`): a revocation waits for what it signs here, and takes its time after."""
    signers = session.info.setdefault(_SIGNERS, {})
    if department not in signers:
        signers[department] = held_signer(session, library.seal_settings, department)
    return signers[department]


def _by_reference(session: Session, department: str, reference: str) -> LicenseRecord | None:
    return session.scalars(select(LicenseRecord).where(LicenseRecord.issuer_department == department,
                                                       LicenseRecord.reference == reference)).first()


def amend_license(session: Session, library: LicenseLibrary, department: str, identifier: str,
                  changes: Mapping[str, Any], actor: Actor, valid_until: date | None = None) -> LicenseVersionRecord:
    """Issue the next version of the license whose current version is `identifier`, with the
    items changed as given; the old version becomes superseded (and so is its status entry: the
    status list that holds it is signed again under its lock), and the certificates read from it
    are revoked as `data_changed`. The amendment by `actor` is an entry of the access log's chain."""
    new = _next_version(session, library, department, identifier, changes, valid_until, data_changed=True, actor=actor)
    record_operation(session, Operation.LICENSE_AMENDED, actor, new.identifier, department=department,
                     detail=identifier)
    return new


def reseal_license(session: Session, library: LicenseLibrary, department: str, identifier: str,
                   actor: Actor) -> LicenseVersionRecord:
    """Issue the license whose current version is `identifier` again, unchanged, under the
    department's seal now: after its seal was revoked for key compromise (`holder_state`
    `SEAL_REVOKED`), the next version verifies. The old one becomes superseded, as by an
    amendment; the certificates read from it stand (their data has not changed). An entry of the
    access log's chain records it, by `actor`."""
    new = _next_version(session, library, department, identifier, {}, None, data_changed=False, actor=actor)
    record_operation(session, Operation.LICENSE_RESEALED, actor, new.identifier, department=department,
                     detail=identifier)
    return new


def sealed_by_compromised_seal(session: Session, library: LicenseLibrary, department: str) -> Iterator[str]:
    """The current versions (identifiers) of the department's licenses in force, or yet to be,
    that `holder_state` calls `SEAL_REVOKED`: those `reseal_license` is for (`init` asks for the
    first only). Only the versions issued while one of its seals revoked for key compromise could
    sign are opened."""
    compromised = compromised_seals(session)
    windows = compromised.windows(department)
    if not windows:
        return
    now = library.clock()
    versions = session.scalars(_current_versions_issued_in(department, windows)
                               .order_by(LicenseVersionRecord.id).execution_options(yield_per=1000))
    yield from (version.identifier for version in versions if version_state(version, now) in (IN_FORCE, "not_yet_valid")
                and compromised.signed(department, version.issued_at,
                                       lambda version=version: credential_of(library, version)))


def _current_versions_issued_in(department: str, windows: Sequence[tuple[datetime, datetime]]) -> Select[Any]:
    """The current versions of the department's valid licenses issued within one of `windows`."""
    return (select(LicenseVersionRecord).join(LicenseRecord, (LicenseRecord.id == LicenseVersionRecord.license_id)
                                              & (LicenseRecord.current_version == LicenseVersionRecord.version))
            .where(LicenseRecord.issuer_department == department, LicenseRecord.status == LicenseState.VALID,
                   or_(*(LicenseVersionRecord.issued_at.between(start, end) for start, end in windows))))


def _next_version(session: Session, library: LicenseLibrary, department: str, identifier: str,
                  changes: Mapping[str, Any], valid_until: date | None, *, data_changed: bool,
                  actor: Actor) -> LicenseVersionRecord:
    _lock_list_of_current(session, library.lists, identifier)
    version = find_version(session, identifier)
    record = _own_license(session, department, version)
    if record.status == LicenseState.REVOKED:
        raise LicenseConflict(f"license {identifier} is revoked and cannot be amended")
    if version.version != record.current_version:
        raise LicenseConflict(f"{identifier} is superseded; amend the license's current version")
    if version.version >= MAX_VERSION:  # what a license identifier has room for
        raise LastVersion(f"{identifier} is the license's last version ({MAX_VERSION}): revoke the license and "
                          "issue a new one to amend it further")
    license_type = _issuable_type(library.catalog, department, record.license_type)
    old = stored_content(library, version)
    for name in HOLDER_ITEMS[license_type.holder]:
        if name in changes and changes[name] != old.items.get(name):
            raise InvalidInput(f"changes.{name}", "names the holder, whom an amendment does not change: revoke the "
                                                  "license and issue one to the holder as now named")
    items = {**old.items, **changes}
    _check_items(license_type, items, prefix="changes")
    _check_standing(license_type, items, prefix="changes", ending=f" (POST /api/v1/licenses/{identifier}/revocation)")
    if license_type.holder is Subject.PERSON:
        changed = {name: items[name] for name in changes if name in items}
        _check_others(license_type, changed,
                      lambda number: holder_key(library.hash_key, Subject.PERSON, number) == record.holder_key,
                      prefix="changes")
        if isinstance(number := old.items.get("id_number"), str):  # the holder's, where the type states it
            _check_born(license_type, changed, parse_id_number(number).birth_date, prefix="changes")
    now = library.clock()
    _check_recorded(license_type, items, max(now, old.valid_from), prefix="changes")
    if old.valid_until is not None and lapsed(old.valid_until, now):
        raise LicenseConflict(f"license {identifier} expired on {old.valid_until.isoformat()}: issue a new license")
    # an amendment changes items, not how long the license lasts nor when it takes effect: only a
    # stated validity is restated; a license not yet in force takes effect on its own day. Sealed
    # again unchanged, it is in force as it was (a 结婚证 valid since 1967 stays so)
    takes_effect = max(now, old.valid_from) if data_changed else old.valid_from
    until = old.valid_until if valid_until is None else validity_window(license_type, takes_effect, valid_until)
    _check_stated_end(license_type, items, until, "changes.valid_until" if "valid_until" in changes else "valid_until")
    if "valid_from" in changes:  # a 换证 restates it; one left as it was stands as issued
        _check_stated_start(license_type, items, takes_effect, "changes.valid_from")
    holder = HeldBy(old.holder_kind, old.holder_name, old.holder_id_masked)
    record.current_version = version.version + 1
    version.status = LicenseState.SUPERSEDED
    version.revoked_at, version.revocation_reason = now, "superseded"
    new = _new_version(session, library, record, license_type, holder=holder, items=items,
                       supersedes=version.identifier, now=now, valid_from=takes_effect, valid_until=until)
    session.flush()
    sign_locked_list(session, library.lists, version.status_list, library.status_list, now)
    if data_changed:
        revoke_certificates_read_from(session, library.status_list, [version.identifier], "data_changed", now, actor)
    return new


def revoke_license(session: Session, library: LicenseLibrary, department: str, identifier: str,
                   reason: str, actor: Actor) -> LicenseVersionRecord:
    """Revoke the license of `identifier` (any of its versions): its current version's entry is set,
    and the certificates read from any of its versions are revoked with the same reason. The
    revocation by `actor` is an entry of the access log's chain (not a repeated one)."""
    if reason not in REVOCATION_REASONS or reason == "superseded":
        allowed = ", ".join(code for code in REVOCATION_REASONS if code != "superseded")
        raise InvalidInput("reason", f"one of {allowed}")
    _lock_list_of_current(session, library.lists, identifier)
    record = _own_license(session, department, find_version(session, identifier))
    current = current_version(session, record)
    if record.status == LicenseState.REVOKED:
        return current
    now = library.clock()
    record.status, record.sole_holder_key = LicenseState.REVOKED, None  # the holder may be issued another
    current.status, current.revoked_at, current.revocation_reason = LicenseState.REVOKED, now, reason
    session.flush()
    sign_locked_list(session, library.lists, current.status_list, library.status_list, library.clock())
    versions = session.scalars(select(LicenseVersionRecord.identifier).where(LicenseVersionRecord.license_id == record.id))
    revoke_certificates_read_from(session, library.status_list, list(versions), reason, now, actor)
    record_operation(session, Operation.LICENSE_REVOKED, actor, current.identifier, department=department,
                     detail=revocation_detail(reason, current.status_list, current.status_index))
    return current


def _lock_list_of_current(session: Session, lists: StatusListKind, identifier: str) -> None:
    """Take the lock of the status list holding the current version of the license that
    `identifier` names (first, before reading what the list covers; none for an unknown
    identifier). An amendment committed between reading that list and taking its lock has moved
    the license to a version on another list: that list is locked too, until the list read after
    a lock is one already locked."""
    locked: set[int] = set()
    while (list_id := session.scalar(_CURRENT_LIST, {"identifier": identifier.strip().upper()})) is not None \
            and list_id not in locked:
        lock_status_list(session, lists, list_id)
        locked.add(list_id)


_CURRENT_LIST = (
    select(LicenseVersionRecord.status_list)
    .join(LicenseRecord, (LicenseRecord.id == LicenseVersionRecord.license_id)
          & (LicenseRecord.current_version == LicenseVersionRecord.version))
    .where(LicenseRecord.id == select(LicenseVersionRecord.license_id)
           .where(LicenseVersionRecord.identifier == bindparam("identifier")).scalar_subquery()))
"""The status list of the current version of the license a version's identifier names."""


def find_version(session: Session, identifier: str) -> LicenseVersionRecord:
    found = session.scalars(select(LicenseVersionRecord).where(
        LicenseVersionRecord.identifier == identifier.strip().upper())).first()
    if found is None:
        raise LicenseNotFound(f"no license {identifier}")
    return found


def current_version(session: Session, record: LicenseRecord) -> LicenseVersionRecord:
    return session.scalars(select(LicenseVersionRecord).where(
        LicenseVersionRecord.license_id == record.id,
        LicenseVersionRecord.version == record.current_version)).one()


def holder_licenses(session: Session, hash_key: bytes, kind: Subject,
                    number: str) -> list[tuple[LicenseRecord, LicenseVersionRecord]]:
    """The holder's licenses with their current versions, newest first."""
    return _licenses_held(session, holder_key(hash_key, kind, number))


def _licenses_held(session: Session, key: str) -> list[tuple[LicenseRecord, LicenseVersionRecord]]:
    """`holder_licenses` of the holder whose keyed hash is `key`."""
    rows = session.execute(
        select(LicenseRecord, LicenseVersionRecord)
        .join(LicenseVersionRecord, (LicenseVersionRecord.license_id == LicenseRecord.id)
              & (LicenseVersionRecord.version == LicenseRecord.current_version))
        .where(LicenseRecord.holder_key == key)
        .order_by(LicenseVersionRecord.issued_at.desc(), LicenseRecord.id.desc()))
    return [(record, version) for record, version in rows.all()]


def license_of(session: Session, version: LicenseVersionRecord) -> LicenseRecord:
    return session.get_one(LicenseRecord, version.license_id)


def held_version(session: Session, hash_key: bytes, kind: Subject, number: str,
                 identifier: str) -> tuple[LicenseRecord, LicenseVersionRecord]:
    """The version `identifier` and its license if the holder of `number` (an ID number, or the
    USCC of an organisation) holds it; `LicenseNotFound` otherwise, the same for someone else's
    license as for none, so nothing is revealed."""
    version = find_version(session, identifier)
    record = license_of(session, version)
    if record.holder_key != holder_key(hash_key, kind, number):
        raise LicenseNotFound(f"no license {identifier}")
    return record, version


def license_issued_by(session: Session, department: str, identifier: str) -> LicenseRecord:
    """The license one of whose versions is `identifier` if `department` issued it; `LicenseNotFound`
    otherwise, the same for another department's license as for none."""
    return _own_license(session, department, find_version(session, identifier))


def versions_of(session: Session, record: LicenseRecord) -> list[LicenseVersionRecord]:
    return list(session.scalars(select(LicenseVersionRecord).where(LicenseVersionRecord.license_id == record.id)
                                .order_by(LicenseVersionRecord.version)))


def credential_of(library: LicenseLibrary, version: LicenseVersionRecord) -> str:
    """The version's credential with every disclosure (personal data: the holder's and the user's only)."""
    return library.box.open(version.credential_sealed, version.identifier)["credential"]


def stored_content(library: LicenseLibrary, version: LicenseVersionRecord) -> LicenseContent:
    """The content of a stored version, read from its own credential (no signature check: our own row)."""
    return content_of_own(credential_of(library, version))


def current_license(session: Session, library: LicenseLibrary, license_types: Collection[str], kind: Subject,
                    number: str, now: datetime) -> tuple[LicenseRecord, LicenseVersionRecord] | None:
    """The holder's newest license of one of `license_types` in force at `now` (`version_state`
    valid), or None. The newest is the one registered last (its `registration_date` item), not the
    one entered in the library last: a marriage entered after the divorce, from an older register,
    does not undo it, and a first marriage's 结婚证 backfilled after the current one's does not
    stand for it."""
    return _newest_in_force(session, library, license_types, holder_key(library.hash_key, kind, number), now)


def _newest_in_force(session: Session, library: LicenseLibrary, license_types: Collection[str], key: str,
                     now: datetime) -> tuple[LicenseRecord, LicenseVersionRecord] | None:
    """`current_license` of the holder whose keyed hash is `key`; none the access log's chain
    records as revoked, whatever its rows say."""
    found = [(record, version) for record, version in _licenses_held(session, key)
             if record.license_type in license_types and version_state(version, now) == IN_FORCE]
    if found:
        revoked = _revoked_in_chain(session, [record.id for record, _version in found])
        found = [(record, version) for record, version in found if record.id not in revoked]
    if len(found) > 1:
        # of two registered the same day, the license issued last (not the one amended or re-sealed last)
        return max(found, key=lambda held: (_registered_on(library, *held), held[0].created_at, held[0].id))
    return found[0] if found else None


def _revoked_in_chain(session: Session, license_ids: Sequence[int]) -> set[int]:
    """Those of `license_ids` whose revocation the access log's chain records (`license-revoked`,
    naming the version current then), found through `ix_access_log_operations`."""
    log = AccessRecord.__table__
    revoked = exists().where(operation_entries(), log.c.reason == Operation.LICENSE_REVOKED.value,
                             log.c.case_number == LicenseVersionRecord.identifier)
    return set(session.scalars(select(LicenseVersionRecord.license_id).where(
        LicenseVersionRecord.license_id.in_(license_ids), revoked)))


def _registered_on(library: LicenseLibrary, record: LicenseRecord, version: LicenseVersionRecord) -> str:
    """The day the license's event was registered (ISO date): its `registration_date` item, else
    the day the license was first issued (an amendment or a re-sealing of an old 结婚证 does not
    make it newer than a later 离婚证)."""
    registered = stored_content(library, version).items.get("registration_date")
    return registered if isinstance(registered, str) else record.created_at.astimezone(BEIJING).date().isoformat()


def answering_alike(catalog: Catalog, license_type: LicenseType) -> set[str]:
    """`license_type` and the license types answering the same proof (结婚证 and 离婚证 both answer
    婚姻状况): the holder's newest of them states the proof (`current_license`), so an older one
    is neither used for it nor shown."""
    if license_type.proof is None:
        return {license_type.code}
    return {other.code for other in catalog.licenses.values() if other.proof == license_type.proof} \
        | {license_type.code}


IN_FORCE = "valid"
SEAL_REVOKED = "seal_revoked"
REPLACED = "replaced"
ALTERED = "altered"
"""A version whose sealed credential no longer opens (`SealedRecordAltered`: it or its row was
changed beside the exchange): nothing of it is read, shown, used or sealed again."""


def version_state(version: LicenseVersionRecord, now: datetime) -> str:
    """What a version is at `now`, as its holder is told: `superseded` or `revoked`, else
    `expired`, `not_yet_valid` (issued to take effect later) or `valid` (`IN_FORCE`: the only
    state in which it is shown (亮证) or used (用证, e_license proofs))."""
    if version.status != LicenseState.VALID:
        return str(version.status)
    if version.valid_until is not None and lapsed(version.valid_until, now):
        return "expired"
    return "not_yet_valid" if version.valid_from > now else IN_FORCE


def holder_state(session: Session, library: LicenseLibrary, version: LicenseVersionRecord, now: datetime) -> str:
    """`version_state`, or `SEAL_REVOKED` for a version in force (or yet to be) sealed with a seal
    since revoked for key compromise: every verifier calls it 无效 until its issuer issues it
    again (`reseal_license`, or an amendment, seals the next version with the department's new seal);
    or `REPLACED` for a version in force of a license that no longer states its holder's proof: a
    license answering the same proof registered later stands for it (the 离婚证 after the 结婚证,
    the current marriage's 结婚证 beside a first one's), so it is neither shown nor sealed again,
    as it is not used (`use_service`). A license the access log's chain records as revoked is
    `revoked`, whatever its rows say."""
    state = version_state(version, now)
    if state not in (IN_FORCE, "not_yet_valid"):
        return state
    if _revoked_in_chain(session, [version.license_id]):
        return LicenseState.REVOKED.value
    record = license_of(session, version)
    compromised = compromised_seals(session)
    if compromised.seals and compromised.signed(record.issuer_department, version.issued_at,
                                                lambda: credential_of(library, version)):
        return SEAL_REVOKED
    if state == IN_FORCE and replacing_license(session, library, record, now) is not None:
        return REPLACED
    return state


def replacing_license(session: Session, library: LicenseLibrary, record: LicenseRecord,
                      now: datetime) -> LicenseRecord | None:
    """The holder's newest license in force answering the proof `record`'s type answers, when it
    is another one (`REPLACED`); None otherwise. Only types that share their proof with another
    replace one another: 结婚证 and 离婚证 state a marital status that changes, the newest stating
    it now; a type alone on its proof (学历证书, 不动产权证书) records what adds up, a 硕士 diploma
    beside a 本科 one."""
    license_type = library.catalog.licenses.get(record.license_type)
    if license_type is None or license_type.proof is None:
        return None
    alike = answering_alike(library.catalog, license_type)
    if len(alike) < 2:
        return None
    newest = _newest_in_force(session, library, alike, record.holder_key, now)
    return newest[0] if newest is not None and newest[0].id != record.id else None


def ensure_not_replaced(session: Session, library: LicenseLibrary, version: LicenseVersionRecord,
                        now: datetime) -> None:
    """`LicenseReplaced` when `version`'s license is `REPLACED` at `now` (a version superseded,
    revoked or out of its validity is that, and verifies as that: never replaced)."""
    if version_state(version, now) != IN_FORCE:
        return
    record = license_of(session, version)
    newer = replacing_license(session, library, record, now)
    if newer is not None:
        catalog = library.catalog
        this, later = catalog.licenses[record.license_type], catalog.licenses[newer.license_type]
        proof = catalog.proofs[this.proof].name_zh if this.proof in catalog.proofs else str(this.proof)
        raise LicenseReplaced(this.name_zh, later.name_zh, proof)


def still_current(session: Session, record: LicenseRecord, version: LicenseVersionRecord) -> bool:
    """Whether `version`, found by `current_license`, is still its license's current version and
    the license still valid, read under the license's lock, held to the end of the caller's step.
    A revocation and an amendment both write the license's row: one committed before is seen
    here, and one that comes after waits for the step."""
    locked = locked_row(session, LicenseRecord, record.id)
    return locked.status == LicenseState.VALID and locked.current_version == version.version


def version_in_force(session: Session, identifier: str) -> bool:
    """`still_current` of the version `identifier`: whether what was read from it may still be
    stored as the license's (under the license's lock, to the end of the caller's step)."""
    version = find_version(session, identifier)
    return still_current(session, license_of(session, version), version)


def _issuable_type(catalog: Catalog, department: str, code: str) -> LicenseType:
    license_type = catalog.licenses.get(code)
    if license_type is None:
        raise InvalidInput("license_type", f"the catalog has no license type {code!r}")
    if license_type.department != department:
        raise NotTheIssuer(f"{license_type.name_zh} is issued by {license_type.department}, not {department}")
    return license_type


def _own_license(session: Session, department: str, version: LicenseVersionRecord) -> LicenseRecord:
    record = license_of(session, version)
    if record.issuer_department != department:
        raise LicenseNotFound(f"no license {version.identifier}")  # as for none: nothing says it exists
    return record


HOLDER_ITEMS = {Subject.PERSON: ("id_number", "full_name"), Subject.ORGANISATION: ("uscc", "entity_name")}
"""The data items that name a license's holder, where its type has them: the holder's own number
and name, given at issue and never amended (a sealed license names one person or body)."""


def _check_holder_items(holder: HolderIdentity, items: Mapping[str, Any]) -> None:
    number, name = HOLDER_ITEMS[holder.kind]
    if number in items and str(items[number]).upper() != holder.number.upper():
        raise InvalidInput(f"items.{number}", f"must be the holder's own (holder.{number})")
    if name in items and items[name] != holder.name:
        raise InvalidInput(f"items.{name}", "must be the holder's name (holder.name)")


OTHER_PERSONS = ("spouse_id_number", "mother_id_number", "father_id_number")
"""Items naming someone other than the holder: the spouse on a 结婚证 or 离婚证, a newborn's parents."""


def _check_others(license_type: LicenseType, items: Mapping[str, Any], is_holder: Callable[[str], bool],
                  prefix: str = "items") -> None:
    """A person's license names others as others (a spouse is not the holder), and a list of
    people (a 户口簿's members, a 不动产权证书's right holders) includes the holder it is issued to;
    `InvalidInput` naming the item otherwise. `items` passed `item_problems`."""
    for item in license_type.data_items:
        value = items.get(item.name)
        if item.name in OTHER_PERSONS and isinstance(value, str) and is_holder(value):
            raise InvalidInput(f"{prefix}.{item.name}", "names the holder: it is the number of someone else")
        numbers = [member.get("id_number") for member in value if isinstance(member, Mapping)] \
            if item.type is ItemType.LIST and isinstance(value, list) else []
        if numbers and not any(isinstance(number, str) and is_holder(number) for number in numbers):
            raise InvalidInput(f"{prefix}.{item.name}", "must list the holder (holder.id_number), to whom it is issued")


def _check_born(license_type: LicenseType, items: Mapping[str, Any], born: date, prefix: str = "items") -> None:
    """Nothing a person's license records happened before the holder was born (its ID number's
    birth date), and a 出生医学证明's birth is the holder's own, on that day; `InvalidInput` naming
    the item otherwise."""
    for item in license_type.data_items:
        value = items.get(item.name)
        if item.name in VALIDITY_ITEMS or item.type not in (ItemType.DATE, ItemType.DATETIME) \
                or not isinstance(value, str):
            continue
        moment = parse_offset_datetime(value) if item.type is ItemType.DATETIME else None
        day = moment.astimezone(BEIJING).date() if moment is not None else date.fromisoformat(value[:10])
        if item.name == "birth_datetime" and day != born:
            raise InvalidInput(f"{prefix}.{item.name}", f"must be the holder's birth date, {born}, as their ID "
                                                          "number states")
        if day < born:
            raise InvalidInput(f"{prefix}.{item.name}", f"records an event before the holder was born ({born})")


def _check_standing(license_type: LicenseType, items: Mapping[str, Any], prefix: str = "items",
                    ending: str = "") -> None:
    """`InvalidInput` naming the item that says the license no longer stands (`ended_state`): a
    company struck off holds no 营业执照 in force; its issuer revokes it (`ending` says how)."""
    if (name := ended_state(license_type, items)) is not None:
        raise InvalidInput(f"{prefix}.{name}", f"{items[name]}: a license saying so is not in force; the issuing "
                                                f"department records it by its revocation{ending}")


def _check_items(license_type: LicenseType, items: Mapping[str, Any], prefix: str = "items") -> None:
    _refuse_first(item_problems(license_type, items), prefix)


def _check_recorded(license_type: LicenseType, items: Mapping[str, Any], latest: datetime,
                    prefix: str = "items") -> None:
    """Refuse a date item recording an event after `latest`: now, or the day a license issued to
    take effect later takes effect (a 驾驶证's 初次领证日期 is that day)."""
    _refuse_first(recorded_ahead(license_type, items, latest), prefix)


def _refuse_first(problems: Mapping[str, str], prefix: str) -> None:
    if problems:
        name, detail = next(iter(problems.items()))
        raise InvalidInput(f"{prefix}.{name}" if name else prefix, detail)


START_ITEMS = ("valid_from", "issued_at")
"""Items stating when a license itself began (有效期起始日期, 发证日期), in that order: the day it
takes effect when the department gives none."""


def stated_start(license_type: LicenseType, items: Mapping[str, Any]) -> date | None:
    """The day the license's items say it began (`START_ITEMS`), or None."""
    names = {item.name for item in license_type.data_items}
    stated = next((items[name] for name in START_ITEMS if name in names and isinstance(items.get(name), str)), None)
    return None if stated is None else date.fromisoformat(stated[:10])


def _check_stated_start(license_type: LicenseType, items: Mapping[str, Any], takes_effect: datetime,
                        field: str) -> None:
    """A license whose items state the start of its validity (a 驾驶证's 有效期起始日期) is not in force
    before it: the item may not be after the day the version takes effect (`InvalidInput` naming
    `field`), or a license its face calls not yet valid would be shown and used."""
    if not any(item.name == "valid_from" for item in license_type.data_items) \
            or not isinstance(items.get("valid_from"), str):
        return
    day = takes_effect.astimezone(BEIJING).date()
    if date.fromisoformat(items["valid_from"]) > day:
        raise InvalidInput(field, f"the item valid_from ({items['valid_from']}) may not be after the day the license "
                                  f"takes effect ({day})")


def _check_stated_end(license_type: LicenseType, items: Mapping[str, Any], until: datetime | None, field: str) -> None:
    """A license whose items state an end (a 残疾人证's or 居住证's 有效期至) ends that day: the item and
    the license's own validity must agree, or a card expired by its face would be shown and used
    as valid (`InvalidInput` naming `field`)."""
    stated = items.get("valid_until") if any(item.name == "valid_until" for item in license_type.data_items) else None
    if stated is None:
        return
    last_day = until.astimezone(BEIJING).date().isoformat() if until is not None else None
    if stated != last_day:
        raise InvalidInput(field, f"the item valid_until ({stated}) must be the day the license is valid until "
                                  f"({last_day or 'none: the license does not expire'})")


def _new_version(session: Session, library: LicenseLibrary, record: LicenseRecord, license_type: LicenseType, *,
                 holder: HeldBy, items: Mapping[str, Any],
                 supersedes: str | None, now: datetime, valid_from: datetime,
                 valid_until: datetime | None) -> LicenseVersionRecord:
    entry = allocate_entry(session, library.lists)
    if entry.opened:  # the first version on a new list: the list is signed, empty, from the start
        rebuild_status_list(session, library.lists, entry.list_id, library.status_list, now)
    department = library.catalog.departments[record.issuer_department]
    content = build_license_content(
        license_type=license_type, department=department, holder=holder, items=items, serial=record.serial,
        version=record.current_version, supersedes=supersedes, status=StatusEntry(library.status_list.url(entry.list_id), entry.index),
        issued_at=now, valid_from=valid_from, valid_until=valid_until)
    credential = sign_license(content, _signer(session, library, record.issuer_department))
    version = LicenseVersionRecord(
        license_id=record.id, version=content.version, identifier=content.identifier, issued_at=content.issued_at,
        valid_from=content.valid_from, valid_until=content.valid_until, status=LicenseState.VALID,
        status_list=entry.list_id, status_index=entry.index, credential_sealed=library.box.seal({"credential": credential}, content.identifier))
    session.add(version)
    session.flush()
    return version


def _taking_effect(day: date) -> datetime:
    """00:00 Beijing time of `day`, in UTC: when a license given `valid_from` takes effect;
    `InvalidInput` for a day no department would write (a typo'd year: 0001, 9990), whose
    validity could not even be counted to its end."""
    if not EARLIEST_DATE <= day <= LATEST_VALID_FROM:
        raise InvalidInput("valid_from", f"must be from {EARLIEST_DATE} to {LATEST_VALID_FROM}")
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).astimezone(timezone.utc)


LATEST_VALID_FROM = date(2999, 12, 31)
