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
from exchange.access_log import AccessEntry, Outcome, append_accesses
from exchange.answer_store import ReservationLost, complete, release
from exchange.clients import AuthenticatedClient
from exchange.keyring import RecordCipher
from exchange.licenses.records import LicenseRecord, LicenseUsage, LicenseVersionRecord
from exchange.licenses.service import (
    IN_FORCE,
    SEAL_REVOKED,
    HolderIdentity,
    LicenseLibrary,
    answering_alike,
    checked_holder,
    credential_of,
    current_license,
    holder_key,
    holder_state,
    still_current,
    stored_content,
)
from exchange.licenses.usage_copy import Use, make_usage_copy
from exchange.errors import InvalidInput
from exchange.named_persons import named_entries
from exchange.pull_service import (PullRefused, PullResult, claim_or_replay, ended_meanwhile, ended_refusal,
                                   live_matter, logged_refusal, refuse, unchecked_entry, with_basis)
from exchange.receipts import sign_receipt
from exchange.unit_of_work import UnitOfWork
from seals.compromise import compromised_seals
from seals.registry import held_signer

RESEAL_RETRY_SECONDS = 3600
"""When to ask again for a license whose issuer has still to re-seal it (an operator's command)."""
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
    try:
        matter, license_type, holder = _checked(context, request)
    except PullRefused as refused:
        raise logged_refusal(context.sessions, unchecked_entry(
            context.library.catalog, client, refused, request_id=request.request_id,
            caseworker_id=request.caseworker_id, case_number=request.case_number, purpose=request.purpose,
            matter=request.matter, proof=request.license_type), refused) from None
    key = holder_key(context.library.hash_key, holder.kind, holder.number)
    document = {"request_id": request.request_id,
                "consumer": {"client_id": client.client_id, "department": client.department_code},
                "caseworker_id": request.caseworker_id, "case_number": request.case_number,
                "matter": request.matter, "license_type": request.license_type, "purpose": request.purpose,
                "subject": {"key": key}, "consent_id": request.consent_id, "legal_basis": request.legal_basis,
                "days": request.days}
    entry = AccessEntry(outcome=Outcome.ALLOWED, request_id=request.request_id, client_id=client.client_id,
                        consumer_department=client.department_code, caseworker_id=request.caseworker_id,
                        case_number=request.case_number, matter=matter.code, proof=license_type.code,
                        subject_key=key, purpose=request.purpose)
    now = context.clock()
    use = license_type.use_for(client.department_code, matter.code)

    def receivable() -> tuple[str, ...]:
        if use is None:
            raise PullRefused("forbidden-by-policy", f"the 用证清单 does not let {client.department_code} use "
                                                     f"{license_type.code} in {matter.code}")
        return use.items

    def authorise(session: Session) -> AccessEntry:
        return with_basis(session, entry, matter, license_type.proof or license_type.code, client,
                          request.consent_id, request.legal_basis, now, releases=receivable(),
                          organisation=holder.kind is Subject.ORGANISATION)

    def still_sound(session: Session, body: dict[str, Any]) -> None:
        """A replay hands the stored usage copy out again only while it stands: the version it
        copies still the one a use would copy now (not amended, revoked, lapsed, nor stated
        otherwise by a later license answering the same proof, as a 离婚证 after a 结婚证) and
        sealed with a seal in good standing, the copy itself too."""
        answer = body["answer"]
        found = current_license(session, context.library, answering_alike(context.library.catalog, license_type),
                                holder.kind, holder.number, now)
        stolen = compromised_seals(session).signed(context.exchange_department,
                                                   datetime.fromisoformat(answer["answered_at"]),
                                                   lambda: body["usage_copy"])
        if stolen or found is None or found[1].identifier != answer["source"]["license"] \
                or holder_state(session, context.library, found[1], now) != IN_FORCE:
            raise PullRefused("conflict", f"the usage copy answered to request {request.request_id!r} no longer "
                                          "stands: the license it copies was amended, revoked or has lapsed since, "
                                          "a later license states the holder's proof otherwise, or a seal that "
                                          "signed either was revoked for key compromise; ask again under a new "
                                          "request id")

    claimed = claim_or_replay(context.sessions, context.answers, entry, canonical_sha256(document), now, authorise,
                              receivable, still_sound)
    if isinstance(claimed, PullResult):
        return claimed
    assert use is not None, "authorise refused the request"
    return _answer(context, client, request, matter, license_type, use, holder.kind, holder.number, claimed, document,
                   claimed_at=now)


def _checked(context: UseContext, request: UseRequest) -> tuple[Matter, LicenseType, HolderIdentity]:
    """What a use request is, checked against the live catalog: `PullRefused` (invalid-request)
    if it cannot be."""
    matter = live_matter(context.library.catalog, request.request_id, request.matter)
    license_type = context.library.catalog.licenses.get(request.license_type)
    if license_type is None:
        raise PullRefused("invalid-request", f"license_type: the live catalog has no license type "
                                             f"{request.license_type!r}", field="#/license_type")
    if not 1 <= request.days <= MAX_USE_DAYS:
        raise PullRefused("invalid-request", f"days: between 1 and {MAX_USE_DAYS}", field="#/days")
    try:
        holder = checked_holder(license_type.holder, request.subject_name, request.subject_number)
    except InvalidInput as invalid:
        pointer = "#/subject/id_number" if license_type.holder is Subject.PERSON else "#/subject/uscc"
        raise PullRefused("invalid-request", str(invalid), field=pointer) from None
    return matter, license_type, holder


def _answer(context: UseContext, client: AuthenticatedClient, request: UseRequest, matter: Matter,
            license_type: LicenseType, use: LicenseUse, kind: Subject, number: str, entry: AccessEntry,
            document: dict[str, Any], *, claimed_at: datetime) -> PullResult:
    """The use's answer, for the request id reserved at `claimed_at`: sealed and stored, or refused
    (logged) when the holder has no valid license, or when a later claim took the request over."""
    library = context.library

    def released(session: Session) -> None:
        release(session, client.client_id, request.request_id, claimed_at)

    def ended(session: Session) -> PullRefused | None:
        """The refusal when the consent or the client ended by now, while the library was read (or
        its lock waited for): no answer leaves then, not even that the holder has no such license."""
        return ended_refusal(ended_meanwhile(session, [entry.consent_id] if entry.consent_id else [],
                                             client, context.clock()), client.client_id, entry.consent_id)

    def refused_as_ended(refusal: PullRefused) -> PullRefused:
        """`refusal` logged after the allowed use, the request id released, in a step of their own."""
        return logged_refusal(context.sessions, replace(entry, outcome=refusal.outcome), refusal, alongside=released)

    uow = UnitOfWork(context.sessions)
    while True:  # again only when the license was revoked or amended since it was looked up
        now = context.clock()  # an amendment meanwhile is in force from its own time on
        with uow.read() as session:
            found = current_license(session, library, answering_alike(library.catalog, license_type), kind, number,
                                    now)
            unsealed = found is not None and holder_state(session, library, found[1], now) == SEAL_REVOKED
            gone = ended(session) if found is None or found[0].license_type != license_type.code else None
        if gone is not None:
            raise refused_as_ended(gone)
        if found is not None and found[0].license_type != license_type.code:
            newer = library.catalog.licenses[found[0].license_type]
            raise refuse(context.sessions, entry, Outcome.ALLOWED, "subject-not-found",
                         f"the holder's {license_type.name_zh} no longer states their "
                         f"{library.catalog.proofs[license_type.proof].name_zh}: a later {newer.name_zh} "
                         f"({newer.code}) does", alongside=released)
        if found is None:
            raise refuse(context.sessions, entry, Outcome.ALLOWED, "subject-not-found",
                         f"the holder has no valid {license_type.name_zh} in the license library",
                         alongside=released)
        if unsealed:  # a usage copy would seal in a credential every verifier calls 无效
            raise refuse(context.sessions, entry, Outcome.FAILED, "source-unavailable",
                         f"the holder's {license_type.name_zh} was sealed with a seal of {found[0].issuer_department} "
                         "since revoked for key compromise: it can be used once its issuer has sealed it again "
                         f"(mianzheng license reseal {found[0].issuer_department})", retry_after=RESEAL_RETRY_SECONDS,
                         alongside=released)
        refusal = None
        try:
            with uow.step("store-answer") as session:
                if still_current(session, *found):
                    refusal = ended(session)  # no usage copy leaves on a consent or client ended meanwhile
                    if refusal is None:
                        body = _store_use(context, client, request, matter, license_type, use, *found, document,
                                          now, claimed_at, session, entry, number)
                        return PullResult(body=body, replayed=False)
        except ReservationLost as lost:
            raise refuse(context.sessions, entry, Outcome.DENIED, "conflict", str(lost),
                         retry_after=lost.retry_after) from None
        if refusal is not None:
            raise refused_as_ended(refusal)


def _store_use(context: UseContext, client: AuthenticatedClient, request: UseRequest, matter: Matter,
               license_type: LicenseType, use: LicenseUse, record: LicenseRecord, version: LicenseVersionRecord,
               document: dict[str, Any], now: datetime, claimed_at: datetime, session: Session, entry: AccessEntry,
               number: str) -> dict[str, Any]:
    """Seal the usage copy of `version`, record the use and store the answer of the request
    reserved at `claimed_at`, in the caller's step, which holds the license's lock
    (`still_current`); the answer's body. `ReservationLost` (nothing written) when a later claim
    took the request over. The people the answer names besides the holder (`number`), a spouse,
    the members of a 户口簿, get the use in their access log (`named_persons`)."""
    library = context.library
    credential, content = credential_of(library, version), stored_content(library, version)
    until = now + timedelta(days=request.days)
    if version.valid_until is not None:
        until = min(until, version.valid_until)
    department = library.catalog.departments[client.department_code]
    issuer = library.catalog.departments[record.issuer_department]
    signer = held_signer(session, library.seal_settings, context.exchange_department)  # a revocation waits for
    # this step, and takes its time after it
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
    body = {"answer": answer, "usage_copy": copy.token, "receipt": sign_receipt(
        signer, receipt_id=str(uuid.uuid4()), issued_at=now, request_document=document, answer=answer,
        consumer={"client_id": client.client_id, "department": client.department_code})}
    session.add(LicenseUsage(id=copy.identifier, version_id=version.id, matter=matter.code,
                             department=department.code, client_id=client.client_id,
                             case_number=request.case_number, used_at=now, valid_until=until))
    complete(session, context.answers, client.client_id, request.request_id, body, now, claimed_at)
    append_accesses(session, named_entries(entry, answer["data"], number, library.hash_key))  # the chain lock: last
    return body
