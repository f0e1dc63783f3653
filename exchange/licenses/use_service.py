"""用证: a department uses a holder's license for a matter, through the exchange.

The same rules as a pull (`exchange.pull_service`): the request envelope (request id, caseworker,
case number, matter, purpose, subject, consent or legal basis), deny by default — here the
license type's 用证清单 must let this department use it for this matter —, the citizen's
consent for the proof the license answers unless the matter's legal basis exempts it,
idempotent replay of a request id from the stored answer, a receipt signed by the exchange and
an entry in the access log whatever the outcome.

The answer carries the items the 用证清单 allows, taken from the holder's current valid license
in the library (with its identifier and issuer: the provenance), and a usage copy (加注件,
`usage_copy.py`) sealed by the exchange for this matter, this department and this case until an
expiry (at most the license's own).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.canonical import canonical_sha256
from catalog.model import LicenseType, LicenseUse, Matter, Subject
from core.clock import Clock, utc_now
from exchange.access_log import AccessEntry, Outcome, record_access
from exchange.answer_store import RequestIdConflict, claim, complete, release, stored_answer
from exchange.clients import AuthenticatedClient
from exchange.consent import ConsentRefused, find_valid_consent
from exchange.keyring import RecordCipher
from exchange.licenses.records import LicenseUsage
from exchange.licenses.service import (
    LicenseLibrary,
    checked_holder,
    credential_of,
    current_license,
    holder_key,
    stored_content,
)
from exchange.licenses.usage_copy import Use, make_usage_copy
from exchange.errors import InvalidInput
from exchange.pull_service import REQUEST_ID, PullRefused, PullResult, still_consented
from exchange.receipts import sign_receipt
from exchange.unit_of_work import UnitOfWork
from seals.registry import active_signer

DEFAULT_USE_DAYS = 30
MAX_USE_DAYS = 90


@dataclass(frozen=True)
class UseRequest:
    request_id: str
    caseworker_id: str
    case_number: str
    matter: str
    license_type: str
    purpose: str
    subject_name: str
    subject_number: str = field(repr=False)
    """The holder's ID number (a person) or USCC (an organisation)."""
    consent_id: str | None = None
    legal_basis: str | None = None
    days: int = DEFAULT_USE_DAYS


@dataclass(frozen=True)
class UseContext:
    library: LicenseLibrary
    sessions: sessionmaker[Session]
    answers: RecordCipher
    exchange_department: str
    clock: Clock = utc_now


def use_license(context: UseContext, client: AuthenticatedClient, request: UseRequest) -> PullResult:
    """Answer one 用证 request (see the module docstring); `PullRefused` after logging a refusal."""
    matter, license_type = _matter_and_type(context, request)
    if not 1 <= request.days <= MAX_USE_DAYS:
        raise PullRefused("invalid-request", f"days: between 1 and {MAX_USE_DAYS}", field="#/days")
    try:
        holder = checked_holder(license_type.holder, request.subject_name, request.subject_number)
    except InvalidInput as invalid:
        pointer = "#/subject/id_number" if license_type.holder is Subject.PERSON else "#/subject/uscc"
        raise PullRefused("invalid-request", str(invalid), field=pointer) from None
    key = holder_key(context.library.hash_key, holder.kind, holder.number)
    document = {"request_id": request.request_id,
                "consumer": {"client_id": client.client_id, "department": client.department_code},
                "caseworker_id": request.caseworker_id, "case_number": request.case_number,
                "matter": request.matter, "license_type": request.license_type, "purpose": request.purpose,
                "subject": {"key": key}, "consent_id": request.consent_id, "legal_basis": request.legal_basis,
                "days": request.days}
    sha = canonical_sha256(document)
    entry = AccessEntry(outcome=Outcome.ALLOWED, request_id=request.request_id, client_id=client.client_id,
                        consumer_department=client.department_code, caseworker_id=request.caseworker_id,
                        case_number=request.case_number, matter=matter.code, proof=license_type.code,
                        subject_key=key if holder.kind is Subject.PERSON else None, purpose=request.purpose)
    now = context.clock()
    uow = UnitOfWork(context.sessions)
    with uow.read() as session:
        try:
            stored = stored_answer(session, context.answers, client.client_id, request.request_id, sha, now)
            if stored is not None:
                still_consented(session, stored, now)
        except RequestIdConflict as conflict:
            raise _refuse(context, entry, Outcome.DENIED, "conflict", str(conflict)) from None
        except PullRefused as refused:
            raise _refuse(context, entry, Outcome.DENIED, refused.kind, refused.detail, field=refused.field,
                          reason=refused.reason) from None
        if stored is not None:
            record_access(context.sessions, replace(entry, reason="replayed", consent_id=stored.consent_id))
            return PullResult(body=stored.body, replayed=True)
        try:
            use, entry = _authorised(session, client, matter, license_type, key, holder.kind, request, entry, now)
        except PullRefused as refused:
            raise _refuse(context, entry, Outcome.DENIED, refused.kind, refused.detail, field=refused.field,
                          reason=refused.reason) from None
    try:
        claim(uow, client.client_id, request.request_id, sha, now, entry.consent_id)
    except RequestIdConflict as conflict:
        raise _refuse(context, entry, Outcome.DENIED, "conflict", str(conflict)) from None
    return _answer(context, client, request, matter, license_type, use, holder.kind, holder.number, entry, document)


def _matter_and_type(context: UseContext, request: UseRequest) -> tuple[Matter, LicenseType]:
    if not REQUEST_ID.fullmatch(request.request_id):
        raise PullRefused("invalid-request", "request_id: 1-128 characters of A-Z a-z 0-9 . _ : -",
                          field="#/request_id")
    matter = context.library.catalog.matters.get(request.matter)
    if matter is None:
        raise PullRefused("invalid-request", f"matter: the live catalog has no matter {request.matter!r}",
                          field="#/matter")
    license_type = context.library.catalog.licenses.get(request.license_type)
    if license_type is None:
        raise PullRefused("invalid-request", f"license_type: the live catalog has no license type "
                                             f"{request.license_type!r}", field="#/license_type")
    return matter, license_type


def _authorised(session: Session, client: AuthenticatedClient, matter: Matter, license_type: LicenseType, key: str,
                kind: Subject, request: UseRequest, entry: AccessEntry,
                now: datetime) -> tuple[LicenseUse, AccessEntry]:
    use = license_type.use_for(client.department_code, matter.code)
    if use is None:
        raise PullRefused("forbidden-by-policy", f"the 用证清单 does not let {client.department_code} use "
                                                 f"{license_type.code} in {matter.code}")
    if not matter.consent_required or kind is Subject.ORGANISATION:
        if request.legal_basis is not None and request.legal_basis != matter.legal_basis_zh:
            raise PullRefused("invalid-request", f"legal_basis: the basis of {matter.code} is {matter.legal_basis_zh}",
                              field="#/legal_basis")
        return use, replace(entry, legal_basis=matter.legal_basis_zh)
    try:
        consent = find_valid_consent(session, key, request.consent_id, matter.code,
                                     license_type.proof or license_type.code, client.department_code, now,
                                     client.client_id)
    except ConsentRefused as refused:
        raise PullRefused("consent-required", str(refused), field="#/consent_id", reason=refused.reason) from None
    return use, replace(entry, consent_id=consent.id)


def _answer(context: UseContext, client: AuthenticatedClient, request: UseRequest, matter: Matter,
            license_type: LicenseType, use: LicenseUse, kind: Subject, number: str, entry: AccessEntry,
            document: dict[str, Any]) -> PullResult:
    library, now = context.library, context.clock()
    with context.sessions() as session:
        found = current_license(session, library, {license_type.code}, kind, number, now)
        if found is None:
            release(session, client.client_id, request.request_id)
            session.commit()
            raise _refuse(context, entry, Outcome.ALLOWED, "subject-not-found",
                          f"the holder has no valid {license_type.name_zh} in the license library")
        record, version = found
        credential = credential_of(library, version)
        content = stored_content(library, version)
    until = now + timedelta(days=request.days)
    if version.valid_until is not None:
        until = min(until, version.valid_until)
    department = library.catalog.departments[client.department_code]
    issuer = library.catalog.departments[record.issuer_department]
    body: dict[str, Any] = {}

    def stored(session: Session) -> None:
        signer = active_signer(session, library.seal_settings, context.exchange_department)
        exchange_uscc = library.catalog.departments[context.exchange_department].uscc
        copy = make_usage_copy(credential, use.items, Use(matter.code, matter.name_zh, department.code,
                                                          department.legal_name_zh, use.purpose_zh,
                                                          request.case_number), signer, exchange_uscc,
                               now=now, valid_until=until)
        answer = {
            "request_id": request.request_id, "matter": matter.code, "license_type": license_type.code,
            "proof": license_type.proof or license_type.code,
            "source": {"library": True, "department": issuer.code, "name": issuer.legal_name_zh,
                       "license": version.identifier, "version": version.version},
            "as_of": version.issued_at.isoformat(), "answered_at": now.isoformat(),
            "data": {name: content.items.get(name) for name in use.items},
            "usage_copy": {"identifier": copy.identifier, "valid_until": until.replace(microsecond=0).isoformat()},
        }
        body.update(answer=answer, usage_copy=copy.token, receipt=sign_receipt(
            signer, receipt_id=str(uuid.uuid4()), issued_at=now, request_document=document, answer=answer,
            consumer={"client_id": client.client_id, "department": client.department_code}))
        session.add(LicenseUsage(id=copy.identifier, version_id=version.id, matter=matter.code,
                                 department=department.code, client_id=client.client_id,
                                 case_number=request.case_number, used_at=now, valid_until=until))
        complete(session, context.answers, client.client_id, request.request_id, body, now)

    record_access(context.sessions, entry, alongside=stored)
    return PullResult(body=body, replayed=False)


def _refuse(context: UseContext, entry: AccessEntry, outcome: Outcome, kind: str, detail: str, *,
            field: str | None = None, reason: str | None = None) -> PullRefused:
    record_access(context.sessions, replace(entry, outcome=outcome, reason=reason or kind))
    return PullRefused(kind, detail, field=field, retry_after=5 if kind == "conflict" else None)
