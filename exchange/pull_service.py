"""Answering a department's exchange request: the heart of the proof-free city.

`answer_request` takes an authenticated consumer system and the request envelope, and:

1. validates the envelope against the live catalog (unknown matter or proof, a subject of the
   wrong kind, an ID number failing its check digit: `invalid-request` before anything else);
2. answers a repeated request id from the stored answer, never pulling twice, while the consent
   it was given on stands;
3. applies the sharing rules, deny by default (this consumer department, this matter, this
   proof) and the matter's consent rule (a valid consent of the citizen, or the legal basis
   when the catalog says the matter needs none);
4. claims the request id and logs the access in one commit (step `claim-request-ids`, together
   with steps 2 and 3; write-ahead) before the source department is asked, pulls the record,
   keeps only the fields the matter may receive, signs a receipt with the exchange's seal and
   stores the answer (step `store-answers`, a durable commit: docs/access-log.md, "Durability");
5. records every refusal in the access log with its reason code: denied or failed.

A refused or failed request raises `PullRefused` after it has been logged; its reservation
of the request id is released so the client may try again with the same id. Refusals before
the use case (authentication, scope, a malformed body) are logged by the HTTP edge.
`answer_requests` answers several requests of one client (an application's pulls) in the same
two steps, each request authorised and logged on its own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.canonical import canonical_sha256
from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Catalog, Matter, Proof, Subject
from core.clock import Clock, utc_now
from exchange.access_log import (AccessEntry, Outcome, Reason, append_accesses, record_access, record_decided_access,
                                 record_decided_accesses)
from exchange.answer_store import (Replay, RequestIdConflict, RequestInProgress, ReservationLost, complete_all,
                                   new_reservation, release, replay_of, reserve_found, reserve_new,
                                   stored_answer_row, stored_answer_rows)
from exchange.clients import CHAINED_UNLESS_REVOKED, AuthenticatedClient, cut_off
from exchange.consent import (ConsentExpired, ConsentMissing, ConsentRefused, ConsentStatus, ConsentTerms,
                              ConsentWithdrawn, as_granted, consent_status, consent_terms, ENDED_AMONG,
                              find_valid_consent, held_consents)
from exchange.errors import ExchangeError
from exchange.keyring import RecordCipher
from exchange.named_persons import named_entries
from exchange.receipts import sign_receipt
from exchange.sources.contract import SourceAnswer, SourceError, SourceUnavailable, SubjectNotFound
from exchange.sources.directory import SourceDirectory, SourceQuery
from exchange.subjects import organisation_key, subject_key
from exchange.unit_of_work import UnitOfWork
from seals.errors import KeyUnavailable, NoActiveSeal
from seals.keys import Signer
from seals.registry import held_signer
from seals.settings import SealSettings

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
RETRY_AFTER_NO_SEAL = 60
"""Retry-After of a pull answered while the exchange has no seal it can sign with."""


@dataclass(frozen=True)
class Envelope:
    """A department's request, in the spirit of X-Road: who asks, for which case, matter and
    purpose, about whom, and on which basis (a consent reference, or the matter's legal basis)."""

    request_id: str
    caseworker_id: str
    case_number: str
    matter: str
    proof: str
    purpose: str
    subject_name: str | None = None
    subject_id_number: str | None = field(default=None, repr=False)
    subject_uscc: str | None = None
    consent_id: str | None = None
    legal_basis: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExchangeContext:
    """What a use case that pulls data through the exchange needs from the installation."""

    sessions: sessionmaker[Session]
    catalog: Catalog
    sources: SourceDirectory
    subject_hash_key: bytes = field(repr=False)
    answers: RecordCipher
    seal_settings: SealSettings
    clock: Clock = utc_now

    @property
    def uow(self) -> UnitOfWork:
        """The unit of work of this installation's database (see `exchange.unit_of_work`)."""
        return UnitOfWork(self.sessions)


@dataclass(frozen=True, kw_only=True)
class PullContext(ExchangeContext):
    """What answering a department's request needs: the exchange's context and the department
    whose seal signs the receipts."""

    exchange_department: str


@dataclass(frozen=True)
class PullResult:
    """The response body (`{"answer": ..., "receipt": ...}`) and whether it was a replay."""

    body: dict[str, Any]
    replayed: bool


class PullRefused(ExchangeError):
    """The request was refused or failed, and has been logged.

    `kind` is the problem type (invalid-request, forbidden-by-policy, consent-required,
    subject-not-found, source-unavailable, conflict); `field` names the envelope member at
    fault, as a JSON pointer; `retry_after` is set for source-unavailable and conflicts.
    """

    def __init__(self, kind: str, detail: str, *, field: str | None = None, retry_after: int | None = None,
                 reason: str | None = None, outcome: Outcome = Outcome.DENIED) -> None:
        super().__init__(detail)
        self.outcome = outcome
        """How the access log records it: denied by the exchange, or failed / allowed at the source."""
        self.kind = kind
        self.detail = detail
        self.field = field
        self.retry_after = retry_after
        self.reason = reason or kind
        """The access log's reason code: the problem type, or a finer code (`consent-withdrawn` ...)."""


@dataclass(frozen=True)
class _Subject:
    query_id: str = field(repr=False)
    key: str | None
    """The subject key of a person; None for an organisation (not personal data)."""
    logged_key: str
    """Whom the access log files the access under: the person's key, or the organisation's
    (`organisation_key`), so that it reads who used its data too."""


def answer_request(context: PullContext, client: AuthenticatedClient, envelope: Envelope, *,
                   to_the_client: bool = False) -> PullResult:
    """Answer one exchange request (see the module docstring); `PullRefused` when refused.
    `to_the_client`: the answer is handed to the client itself (the exchange API), so a
    revocation of the client since it was authenticated stops it (`_refuse_ended_meanwhile`)."""
    [outcome] = answer_requests(context, client, [envelope], to_the_client=to_the_client)
    if isinstance(outcome, PullRefused):
        raise outcome
    return outcome


def answer_requests(context: PullContext, client: AuthenticatedClient, envelopes: Sequence[Envelope], *,
                    alongside: Callable[[Session, list[PullResult | PullRefused]], None] | None = None,
                    to_the_client: bool = False) -> list[PullResult | PullRefused]:
    """Answer several requests of one client (a case's proofs) as one unit of work: each is
    checked, authorised, logged and answered as `answer_request` does it alone, in two steps for
    all of them instead of two for each.

    Step `claim-request-ids`: every request id is looked up (one query), each request authorised
    on its own, the allowed ones reserved and logged (one chain lock, one INSERT), committed
    (write-ahead) before any source is asked. Then the sources are asked, those over the network
    in parallel. Step `store-answers` (a durable commit): the answers are signed and stored,
    failed reservations released, and the refusals, replays and failures logged, each request
    its own entry; with `alongside(session, outcomes)` in the same transaction, so what the
    caller makes of the outcomes is stored together with them or not at all.

    Returns, per envelope in order, its `PullResult` or its `PullRefused` (logged; not raised).
    """
    outcomes: list[PullResult | PullRefused | None] = [None] * len(envelopes)
    requests: list[_Request] = []
    invalid: list[AccessEntry] = []
    for index, envelope in enumerate(envelopes):
        try:
            requests.append(_Request(index, envelope, *_checked(context, client, envelope)))
        except PullRefused as refused:  # nothing read: logged with the others, or on its own
            outcomes[index] = refused
            invalid.append(unchecked_entry(
                context.catalog, client, refused, request_id=envelope.request_id, caseworker_id=envelope.caseworker_id,
                case_number=envelope.case_number, purpose=envelope.purpose, matter=envelope.matter,
                proof=envelope.proof))
    if requests:
        claimed_at = _claim_all(context, client, requests)
        claimed = [request for request in requests if request.outcome is None]
        for request, pulled in zip(claimed, _query_all(context.sources, claimed)):
            if isinstance(pulled, PullRefused):
                request.refused(pulled, pulled.outcome)
            else:
                request.pulled = pulled
        _store_all(context, client, requests, claimed_at, outcomes, alongside, invalid, to_the_client)
    elif invalid:
        record_decided_accesses(context.sessions, lambda _session: invalid)
    return [outcome for outcome in outcomes if outcome is not None]


def unchecked_entry(catalog: Catalog, client: AuthenticatedClient, refused: PullRefused, *, request_id: str,
                    caseworker_id: str, case_number: str, purpose: str, matter: str, proof: str) -> AccessEntry:
    """The entry of a request refused as it is checked, before anything is read: who asked, with
    what request id, case and purpose; the matter and the proof (or license type) only where the
    catalog has them, and no subject (its number may be what was wrong)."""
    return AccessEntry(
        outcome=Outcome.DENIED, reason=refused.reason,
        request_id=request_id if REQUEST_ID.fullmatch(request_id) else None,
        client_id=client.client_id, consumer_department=client.department_code,
        caseworker_id=caseworker_id, case_number=case_number, purpose=purpose,
        matter=matter if matter in catalog.matters else None,
        proof=proof if proof in catalog.proofs or proof in catalog.licenses else None)


@dataclass
class _Request:
    """One request of a batch as it goes: checked, then claimed, replayed or refused, then answered."""

    index: int
    envelope: Envelope
    matter: Matter
    proof: Proof
    subject: _Subject
    document: dict[str, Any]
    sha256: str
    entry: AccessEntry
    """What the log records of it, before the basis of the access is known."""
    allowed: AccessEntry | None = None
    """The entry of the allowed access, with its basis, once claimed."""
    outcome: PullResult | PullRefused | None = None
    logged: AccessEntry | None = None
    """The entry the `store-answers` step logs for it (a refusal, a replay or a failure)."""
    pulled: SourceAnswer | None = None

    def refused(self, refused: PullRefused, outcome: Outcome) -> None:
        self.outcome = refused
        self.logged = replace(self.allowed or self.entry, outcome=outcome, reason=refused.reason)

    def replayed(self, stored: Replay) -> None:
        self.outcome = PullResult(body=stored.body, replayed=True)
        self.logged = replace(self.entry, reason="replayed", consent_id=stored.consent_id)


def _checked(context: PullContext, client: AuthenticatedClient, envelope: Envelope) -> tuple[
        Matter, Proof, _Subject, dict[str, Any], str, AccessEntry]:
    """What a request is, checked against the live catalog: `PullRefused` (invalid-request) if it cannot be."""
    matter, proof = _matter_and_proof(context.catalog, envelope)
    subject = _subject(context, proof, envelope)
    document = _request_document(client, envelope, subject)
    entry = AccessEntry(
        outcome=Outcome.ALLOWED, request_id=envelope.request_id, client_id=client.client_id,
        consumer_department=client.department_code, caseworker_id=envelope.caseworker_id,
        case_number=envelope.case_number, matter=matter.code, proof=proof.code, subject_key=subject.logged_key,
        purpose=envelope.purpose,
    )
    return matter, proof, subject, document, canonical_sha256(document), entry


def _claim_all(context: PullContext, client: AuthenticatedClient, requests: list[_Request]) -> datetime:
    """Step `claim-request-ids` (see `answer_requests`); retried when it loses a race (an id claimed
    meanwhile, too). A request refused or replayed here keeps its outcome; the others are claimed
    and logged. Returns the time they were claimed at: their reservations' fencing token."""
    claimed_at: datetime | None = None

    def decide(session: Session) -> list[AccessEntry]:
        nonlocal claimed_at
        session.info["step"] = "claim-request-ids"
        for request in requests:  # what an attempt rolled back decided nothing
            request.outcome = request.logged = request.allowed = None
        claimed_at = context.clock()
        return _claim_in(session, context, client, requests, claimed_at)

    record_decided_accesses(context.sessions, decide, write_ahead=True, retry_on=(IntegrityError,))
    assert claimed_at is not None, "decide ran"
    return claimed_at


def _claim_in(session: Session, context: PullContext, client: AuthenticatedClient,
              requests: list[_Request], now: datetime) -> list[AccessEntry]:
    """Decide each request, reserve the allowed ones' ids at `now`; the allowed accesses, to log."""
    rows = stored_answer_rows(session, client.client_id, [request.envelope.request_id for request in requests])
    consents = held_consents(session, [request.envelope.consent_id for request in requests])
    new, allowed = [], []
    for request in requests:
        row = rows.get(request.envelope.request_id)
        try:
            if not context.catalog.may_request(client.department_code, request.matter.code, request.proof.code):
                raise PullRefused("forbidden-by-policy", f"the catalog does not let {client.department_code} ask "
                                  f"for {request.proof.code} in {request.matter.code}")
            stored = replay_of(row, context.answers, request.sha256, now)
            if stored is not None:
                still_consented(session, stored, now)
                still_receivable(stored, request.matter.fields_for(request.proof.code))
                request.replayed(stored)
                continue
            entry = with_basis(session, request.entry, request.matter, request.proof.code, client,
                               request.envelope.consent_id, request.envelope.legal_basis, now, held=consents,
                               releases=request.matter.fields_for(request.proof.code),
                               organisation=request.proof.subject is Subject.ORGANISATION)
            if row is None:
                new.append(new_reservation(client.client_id, request.envelope.request_id, request.sha256, now,
                                           entry.consent_id))
            else:
                reserve_found(session, row, client.client_id, request.envelope.request_id, request.sha256, now,
                              entry.consent_id)
        except RequestIdConflict as conflict:
            request.refused(PullRefused("conflict", str(conflict), retry_after=conflict.retry_after), Outcome.DENIED)
            continue
        except PullRefused as refused:
            request.refused(refused, Outcome.DENIED)
            named = consents.get(request.envelope.consent_id or "")
            if request.logged is not None and named is not None and named.subject_key == request.entry.subject_key:
                request.logged = replace(request.logged, consent_id=named.id)  # which consent it relied on
            continue
        request.allowed = entry
        allowed.append(entry)
    reserve_new(session, new)
    return allowed


def _query_all(sources: SourceDirectory, requests: list[_Request]) -> list[SourceAnswer | PullRefused]:
    """Ask the sources for the claimed requests (`SourceDirectory.query_all`); each its record or
    its refusal."""
    answers = sources.query_all([SourceQuery(request.proof.code, request.subject.query_id,
                                             request.envelope.subject_name, request.matter.code)
                                 for request in requests])
    return [source_refusal(answer) if isinstance(answer, SourceError) else answer for answer in answers]


def _store_all(context: PullContext, client: AuthenticatedClient, requests: list[_Request], claimed_at: datetime,
               outcomes: list[PullResult | PullRefused | None],
               alongside: Callable[[Session, list[PullResult | PullRefused]], None] | None,
               invalid: list[AccessEntry], to_the_client: bool) -> None:
    """Step `store-answers` (see `answer_requests`): fills in `outcomes`, and logs the requests
    refused as they were checked (`invalid`) with the others. A request whose
    reservation a later claim took over meanwhile (`ReservationLost`) is refused as a conflict:
    its answer is not stored, nor handed out. Nor is the answer of a request allowed on a consent
    that ended (withdrawn, expired) while the source was asked, or one `to_the_client` whose
    client was revoked meanwhile (`_refuse_ended_meanwhile`). The people an answer names besides
    its subject (a spouse) get an entry each (`named_persons`)."""
    consumer = {"client_id": client.client_id, "department": client.department_code}
    with context.uow.step("store-answers") as session:  # signing takes microseconds: no need for a step of its own
        ended = _refuse_ended_meanwhile(session, client if to_the_client else None, requests, context.clock())
        answered = [request for request in requests if request.outcome is None]
        signed_at = context.clock()  # before the seal is read: a revocation committed after the read is later
        signer = _signer_if_any(session, context, answered)
        released = ended + [request for request in requests if request.logged is not None and request.logged.reason in
                            (Reason.SUBJECT_NOT_FOUND, Reason.SOURCE_UNAVAILABLE, Reason.SOURCE_ERROR,
                             Reason.INTERNAL_ERROR)]
        if signer is not None:
            bodies: dict[str, dict[str, Any]] = {}
            for request in answered:
                assert request.pulled is not None
                answer = _answer_document(context, request.envelope, request.matter, request.proof, request.pulled)
                receipt = sign_receipt(signer, receipt_id=str(uuid.uuid4()), issued_at=signed_at,
                                       request_document=request.document, answer=answer, consumer=consumer)
                bodies[request.envelope.request_id] = {"answer": answer, "receipt": receipt}
                request.outcome = PullResult(body=bodies[request.envelope.request_id], replayed=False)
            lost = complete_all(session, context.answers, client.client_id, bodies, signed_at, claimed_at)
            for request in answered:
                if request.envelope.request_id in lost:
                    taken_over = ReservationLost(request.envelope.request_id)
                    request.refused(PullRefused("conflict", str(taken_over), retry_after=taken_over.retry_after),
                                    Outcome.DENIED)
        named = [entry for request in answered if isinstance(request.outcome, PullResult)
                 for entry in named_entries(request.allowed or request.entry, request.outcome.body["answer"]["data"],
                                            request.subject.query_id, context.subject_hash_key)]
        for request in released:
            release(session, client.client_id, request.envelope.request_id, claimed_at)
        for request in requests:
            outcomes[request.index] = request.outcome
        if alongside is not None:
            alongside(session, [outcome for outcome in outcomes if outcome is not None])
        # last: the chain lock is held from here to the commit
        append_accesses(session, [*invalid, *(request.logged for request in requests if request.logged is not None),
                                  *named])


_ENDED_OR_CLIENT = union_all(ENDED_AMONG, CHAINED_UNLESS_REVOKED)
"""`ENDED_AMONG` and `CHAINED_UNLESS_REVOKED` in one statement (a client's id is never a consent's)."""


def _refuse_ended_meanwhile(session: Session, client: AuthenticatedClient | None, requests: list[_Request],
                            now: datetime) -> list[_Request]:
    """Refuse each request the source answered (a record, or that it holds none: for 无房证明 that
    is the answer) whose consent or `client` (given when the answer goes to it) `ended_meanwhile`;
    those refused, whose request ids are to be released."""
    answered = [request for request in requests if request.allowed is not None and (
        request.outcome is None  # a record, or the source's true answer that it holds none:
        or isinstance(request.outcome, PullRefused) and request.outcome.reason == Reason.SUBJECT_NOT_FOUND)]
    if not answered:
        return []
    client_id = client.client_id if client else None
    consent_ids = {request.allowed.consent_id for request in answered if request.allowed and request.allowed.consent_id}
    ended = ended_meanwhile(session, consent_ids, client, now)
    refused = []
    for request in answered:
        assert request.allowed is not None
        refusal = ended_refusal(ended, client_id, request.allowed.consent_id)
        if refusal is not None:
            request.refused(refusal, Outcome.DENIED)
            refused.append(request)
    return refused


def ended_meanwhile(session: Session, consent_ids: Collection[str], client: AuthenticatedClient | None,
                    now: datetime) -> dict[str, str]:
    """Which of the consents `consent_ids` are no longer in force `now` (withdrawn by the citizen,
    expired, or ended with their application), and whether `client` is revoked or the token it
    presented replaced, by the chain's record (`clients.cut_off`): their ids → the access log's
    reason. For the store step of an access decided before: its answer is then neither stored nor
    handed out (`ended_refusal`), as an access decided now would be refused. One plain statement, taking no
    lock (`ENDED_AMONG`): a withdrawal or revocation committing while the answer is stored
    (milliseconds) is not seen."""
    if not consent_ids and client is None:
        return {}
    client_id = client.client_id if client else ""
    ended = {found_id: found for found_id, found in session.execute(  # a consent's id → its reason; the client's
        _ENDED_OR_CLIENT, {"consent_ids": sorted(consent_ids), "at": now, "client_id": client_id})}
    chained = ended.pop(client_id, None)  # → its credentials, unless revoked
    if client is not None and cut_off(chained, client.secret_hash or "", now):
        ended[client_id] = Reason.UNAUTHENTICATED
    return ended


def ended_refusal(ended: Mapping[str, str], client_id: str | None, consent_id: str | None) -> PullRefused | None:
    """The refusal of an access whose client or consent `ended_meanwhile` found ended; None if neither."""
    if client_id is not None and client_id in ended:
        return PullRefused("unauthenticated", "the client token was revoked or replaced while the request was answered",
                           reason=Reason.UNAUTHENTICATED)
    if consent_id is not None and consent_id in ended:
        return PullRefused("consent-required", f"consent {consent_id} ended while the request was answered",
                           field="#/consent_id", reason=ended[consent_id])
    return None


def _signer_if_any(session: Session, context: PullContext, answered: list[_Request]) -> Signer | None:
    """The exchange's signer for the answers, its seal held for the caller's step (a revocation
    waits for the step's commit and takes its time after it, so no receipt is signed at or after
    it); None when there are none to sign, or when it has no seal it can sign with now (none
    active, revoked meanwhile, or its key unreadable): then each answered request fails (503,
    Retry-After), logged as such, and its request id is released, so the department's retry is
    answered once the seal officer has seen to the seal."""
    if not answered:
        return None
    try:
        return held_signer(session, context.seal_settings, context.exchange_department)
    except (NoActiveSeal, KeyUnavailable):
        for request in answered:
            request.refused(PullRefused("service-unavailable", "the exchange has no seal it can sign its answer with now",
                                        retry_after=RETRY_AFTER_NO_SEAL, reason=Reason.INTERNAL_ERROR,
                                        outcome=Outcome.FAILED), Outcome.FAILED)
        return None


def claim_or_replay(sessions: sessionmaker[Session], answers: RecordCipher, entry: AccessEntry, request_sha256: str,
                    now: datetime, authorise: Callable[[Session], AccessEntry],
                    receivable: Callable[[], Collection[str]],
                    still_sound: Callable[[Session, dict[str, Any]], None] | None = None) -> AccessEntry | PullResult:
    """Step `claim-request-id` of a request for personal data (a pull, a license use): in one commit,
    the request id is looked up, `authorise` decides (the log entry with the basis of the access, or
    `PullRefused`), the id is reserved and the allowed access logged, before anything is read.

    Returns the allowed entry; or, for a request id answered before, its stored answer again (a
    replay, logged as such; only while the consent it was given on stands, the live catalog
    still lets the department receive every field of it (`receivable`) and, if given,
    `still_sound` finds nothing wrong with the stored body; else `PullRefused`). A refusal, a
    reused or busy request id is logged and raised as `PullRefused`.
    """
    client_id, request_id = entry.client_id, entry.request_id
    assert client_id is not None and request_id is not None, "a claimed request names its client and id"
    allowed = entry

    def claimed(session: Session) -> AccessEntry:
        nonlocal allowed
        row = stored_answer_row(session, client_id, request_id)
        stored = replay_of(row, answers, request_sha256, now)
        if stored is not None:
            still_consented(session, stored, now)
            still_receivable(stored, receivable())
            if still_sound is not None:
                still_sound(session, stored.body)
            raise _Replayed(stored)
        allowed = authorise(session)
        reserve_found(session, row, client_id, request_id, request_sha256, now, allowed.consent_id)
        return allowed

    try:
        record_decided_access(sessions, claimed, write_ahead=True)
    except _Replayed as replayed:
        stored = replayed.stored
        record_access(sessions, replace(entry, reason="replayed", consent_id=stored.consent_id))
        return PullResult(body=stored.body, replayed=True)
    except IntegrityError:
        in_progress = RequestInProgress(f"request {request_id!r} is being answered already; retry shortly")
        raise refuse(sessions, entry, Outcome.DENIED, "conflict", str(in_progress),
                     retry_after=in_progress.retry_after) from None
    except RequestIdConflict as conflict:
        raise refuse(sessions, entry, Outcome.DENIED, "conflict", str(conflict),
                     retry_after=conflict.retry_after) from None
    except PullRefused as refused:
        raise logged_refusal(sessions, replace(entry, outcome=Outcome.DENIED), refused) from None
    return allowed


class _Replayed(Exception):
    """The request id was answered before: its stored answer is handed out again (nothing claimed)."""

    def __init__(self, stored: Replay) -> None:
        super().__init__("replayed")
        self.stored = stored


def still_consented(session: Session, stored: Replay, now: datetime) -> None:
    """A replay hands out personal data again: only while the consent it was given on still stands,
    neither withdrawn nor past its days, its row as the chain records it (never deleted)."""
    if stored.consent_id is None:
        return
    consent = consent_terms(session, stored.consent_id)
    status = consent_status(consent, now) if consent is not None and as_granted(consent) else None
    if status is None:  # a consent is never deleted, nor changed but as the chain records
        ended, reason = "is not kept as the access log records it", ConsentMissing.reason
    elif status is ConsentStatus.WITHDRAWN:
        ended, reason = "was withdrawn", ConsentWithdrawn.reason
    elif status is ConsentStatus.EXPIRED:
        ended, reason = "has expired", ConsentExpired.reason
    else:
        return
    raise PullRefused("consent-required", f"consent {stored.consent_id} {ended}: the stored answer is no longer "
                      "given out (the receipt stays verifiable)", field="#/request_id", reason=reason)


def still_receivable(stored: Replay, fields: Collection[str]) -> None:
    """A replay hands out personal data again: only the fields the live catalog still lets the
    department receive. The stored answer is signed as it is, so one with a field withdrawn since
    is refused whole: a new request id gets the narrowed answer."""
    withdrawn = sorted(set(stored.body["answer"]["data"]) - set(fields))
    if withdrawn:
        raise PullRefused("forbidden-by-policy", f"the live catalog no longer lets the department receive "
                          f"{', '.join(withdrawn)}: the stored answer is not given out again; ask with a new "
                          "request id", field="#/request_id")


def live_matter(catalog: Catalog, request_id: str, code: str) -> Matter:
    """The matter a request names, its request id checked first; `PullRefused` (invalid-request)."""
    if not REQUEST_ID.fullmatch(request_id):
        raise PullRefused("invalid-request", "request_id: 1-128 characters of A-Z a-z 0-9 . _ : -",
                          field="#/request_id")
    matter = catalog.matters.get(code)
    if matter is None:
        raise PullRefused("invalid-request", f"matter: the live catalog has no matter {code!r}", field="#/matter")
    return matter


def _matter_and_proof(catalog: Catalog, envelope: Envelope) -> tuple[Matter, Proof]:
    matter = live_matter(catalog, envelope.request_id, envelope.matter)
    proof = catalog.proofs.get(envelope.proof)
    if proof is None:
        raise PullRefused("invalid-request", f"proof: the live catalog has no proof {envelope.proof!r}",
                          field="#/proof")
    return matter, proof


def _subject(context: PullContext, proof: Proof, envelope: Envelope) -> _Subject:
    """The subject as the source is asked for it; rejects an identifier that fails its check."""
    try:
        if proof.subject is Subject.ORGANISATION:
            if envelope.subject_uscc is None:
                raise PullRefused("invalid-request", f"subject.uscc: proof {proof.code} is about an organisation",
                                  field="#/subject/uscc")
            code = parse_uscc(envelope.subject_uscc).code
            return _Subject(query_id=code, key=None, logged_key=organisation_key(context.subject_hash_key, code))
        if envelope.subject_id_number is None:
            raise PullRefused("invalid-request", f"subject.id_number: proof {proof.code} is about a person",
                              field="#/subject/id_number")
        key = subject_key(context.subject_hash_key, envelope.subject_id_number)
        return _Subject(query_id=envelope.subject_id_number.strip().upper(), key=key, logged_key=key)
    except InvalidIdentifier as invalid:
        pointer = "#/subject/uscc" if proof.subject is Subject.ORGANISATION else "#/subject/id_number"
        raise PullRefused("invalid-request", f"{pointer[2:].replace('/', '.')}: {invalid}", field=pointer) from None


def _request_document(client: AuthenticatedClient, envelope: Envelope, subject: _Subject) -> dict[str, Any]:
    """The request as the receipt binds it: the person's ID number replaced by their subject key."""
    return {
        "request_id": envelope.request_id,
        "consumer": {"client_id": client.client_id, "department": client.department_code},
        "caseworker_id": envelope.caseworker_id,
        "case_number": envelope.case_number,
        "matter": envelope.matter,
        "proof": envelope.proof,
        "purpose": envelope.purpose,
        "subject": {"key": subject.key} if subject.key else {"uscc": subject.query_id},
        "subject_name": envelope.subject_name,
        "consent_id": envelope.consent_id,
        "legal_basis": envelope.legal_basis,
    }


def with_basis(session: Session, entry: AccessEntry, matter: Matter, proof_code: str, client: AuthenticatedClient,
               consent_id: str | None, legal_basis: str | None, now: datetime,
               held: Mapping[str, ConsentTerms] | None = None, *, releases: Collection[str],
               organisation: bool = False) -> AccessEntry:
    """The log entry with the basis of an access the sharing rules allow, releasing the data items
    `releases`: the matter's legal basis when it needs no consent or the subject is an
    organisation (a stated basis must be that one), else the citizen's valid consent given for
    those items (`held`: as `find_valid_consent` takes it), no legal basis stated; `PullRefused`
    otherwise."""
    if not matter.consent_required or organisation:
        if legal_basis is not None and legal_basis != matter.legal_basis_zh:
            raise PullRefused("invalid-request", f"legal_basis: the basis of {matter.code} is {matter.legal_basis_zh}",
                              field="#/legal_basis")
        return replace(entry, legal_basis=matter.legal_basis_zh)
    if legal_basis is not None:  # sent by a client that misreads the matter: not ignored
        raise PullRefused("invalid-request", f"legal_basis: {matter.code} rests on the citizen's consent (consent_id), "
                                             "not on a legal basis", field="#/legal_basis")
    try:
        consent = find_valid_consent(session, entry.subject_key, consent_id, matter.code, proof_code,
                                     client.department_code, now, client.client_id, held, releases)
    except ConsentRefused as refused:
        raise PullRefused("consent-required", str(refused), field="#/consent_id", reason=refused.reason) from None
    return replace(entry, consent_id=consent.id)


def _answer_document(context: PullContext, envelope: Envelope, matter: Matter, proof: Proof,
                     pulled: SourceAnswer) -> dict[str, Any]:
    """The answer a receipt signs: the source's record cut to the fields the matter may receive."""
    department = context.catalog.departments[proof.department]
    return {
        "request_id": envelope.request_id,
        "matter": matter.code,
        "proof": proof.code,
        "source": {"department": department.code, "name": department.legal_name_zh,
                   **({"license": dict(pulled.provenance)} if pulled.provenance else {})},
        "as_of": pulled.as_of.isoformat(),
        "answered_at": context.clock().isoformat(),
        "data": {name: pulled.record[name] for name in matter.fields_for(proof.code)},
    }


def pull_logged(sessions: sessionmaker[Session], sources: SourceDirectory, entry: AccessEntry, proof_code: str,
                query_id: str, name: str | None, *,
                alongside: Callable[[Session], None] | None = None) -> SourceAnswer:
    """The source's record. The access (`entry`, allowed) is logged and committed before the source
    is asked, so every query a source answers has its entry even if this process dies or a later
    step fails; then `query_logged`."""
    record_access(sessions, entry)
    return query_logged(sessions, sources, entry, proof_code, query_id, name, alongside=alongside)


def query_logged(sessions: sessionmaker[Session], sources: SourceDirectory, entry: AccessEntry, proof_code: str,
                 query_id: str, name: str | None, *,
                 alongside: Callable[[Session], None] | None = None) -> SourceAnswer:
    """The source's record, `entry` (allowed) being committed to the log already. When there is no
    record, or the source fails, that outcome is logged too (with `alongside` in the same
    transaction) and `PullRefused` raised: subject-not-found (an allowed access that found
    nothing) or source-unavailable (failed, with Retry-After)."""
    try:
        return sources.query(proof_code, query_id, name, matter=entry.matter)
    except SourceError as error:
        refused = source_refusal(error)
        raise logged_refusal(sessions, replace(entry, outcome=refused.outcome), refused, alongside=alongside) from None


def source_refusal(error: SourceError) -> PullRefused:
    """What a source's error makes of a request: subject-not-found (an allowed access that found
    nothing), source-unavailable (failed, with Retry-After: it cannot answer now) or source-error
    (failed: it broke its contract or refused the query, which no retry mends); `outcome` is what
    the log records."""
    if isinstance(error, SubjectNotFound):
        return PullRefused("subject-not-found", str(error), outcome=Outcome.ALLOWED)
    if isinstance(error, SourceUnavailable):
        return PullRefused("source-unavailable", str(error), retry_after=error.retry_after_seconds,
                           outcome=Outcome.FAILED)
    return PullRefused("source-error", str(error), outcome=Outcome.FAILED)


def refuse(sessions: sessionmaker[Session], entry: AccessEntry, outcome: Outcome, kind: str, detail: str, *,
            field: str | None = None, retry_after: int | None = None,
            alongside: Callable[[Session], None] | None = None) -> PullRefused:
    """Log the refusal (with `alongside` in the same transaction) and return the error to raise."""
    return logged_refusal(sessions, replace(entry, outcome=outcome),
                          PullRefused(kind, detail, field=field, retry_after=retry_after), alongside=alongside)


def logged_refusal(sessions: sessionmaker[Session], entry: AccessEntry, refused: PullRefused, *,
                   alongside: Callable[[Session], None] | None = None) -> PullRefused:
    """Log `refused` under its reason code (with `alongside` in the same transaction); return it to raise."""
    record_access(sessions, replace(entry, reason=refused.reason), alongside=alongside)
    return refused
