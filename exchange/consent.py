"""Citizens' consents: "department D may pull proofs P for matter M about me until T".

A consent names one matter, the proofs of that matter it covers, one consumer department and
an expiry (at most `MAX_CONSENT_DAYS` ahead). A license type that answers no proof of the catalog
(驾驶证, 社会保障卡) stands in the consent by its own code, where the matter's 用证清单 lets the
department use it (`usable_licenses`): a use of it is checked against that code. The citizen
is identified only by subject key (`exchange.subjects`). A consent is never deleted:
withdrawing it records when, so the access log's references to it stay meaningful.

The chain holds a consent, not the `consents` table. Granting one appends an entry of outcome
`granted` to the access log with its terms (`granted_terms`), withdrawing it one of outcome
`withdrawn`, in the transaction that writes the row. Every read of a consent (`Consent`,
`consent_terms`, `find_valid_consent`) reads its entries too: a row the chain does not record as
granted on its terms is no consent (`as_granted`; it may end sooner, as a counter consent does
with its application), and a consent the chain records as withdrawn is withdrawn whatever its
row says. An edit of the table (a withdrawal set back, a consent inserted or widened) so changes
nothing; undoing an entry breaks the chain, which `audit verify` reports.

Before a citizen agrees, `preview_consent` says exactly what the consent would release: which
department may pull, for which matter and legal basis, which proofs from which source
department and which of their data items (the matter's minimised fields), and for how long. It
validates as `grant_consent` does and records nothing; the portal shows it and grants only when
the citizen releases it.

`find_valid_consent` is what the exchange request checks when the catalog says the matter
needs consent; its errors (`ConsentRefused` subclasses) carry a stable `reason` code that the
access log records.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import (JSON, ColumnElement, Exists, Row, ScalarSelect, Select, String, bindparam, case,
                        exists, func, or_, select, update)
from sqlalchemy.orm import Mapped, Session, column_property, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from catalog.model import Catalog, LicenseType, Matter, Mode, Subject
from core.canonical import canonical_json
from core.orm import Base, UtcDateTime
from exchange.access_log import AccessEntry, AccessRecord, Outcome, append_accesses, consent_events, utc_stamp
from exchange.errors import ExchangeError, InvalidInput, NotFound, UnknownCode
from exchange.record_ids import is_record_id

MAX_CONSENT_DAYS = 365


class Channel(StrEnum):
    """How a consent was recorded."""

    ONLINE = "online"
    """By the citizen, signed in through the identity provider."""
    COUNTER = "counter"
    """By an operator at a service counter, on the citizen's written request."""


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


_LOG = AccessRecord.__table__


def _chained_terms(consent_id: Any, subject_key: Any, matter: Any, department: Any,
                   bound_client_id: Any) -> ScalarSelect[str | None]:
    """The terms the chain's first grant entry of a consent row (its columns) records, where it
    names the row's citizen, matter, department and department system; NULL where none does."""
    return (select(_LOG.c.purpose)
            .where(consent_events(), _LOG.c.outcome == Outcome.GRANTED.value, _LOG.c.consent_id == consent_id,
                   _LOG.c.subject_key == subject_key, _LOG.c.matter == matter,
                   _LOG.c.consumer_department == department, _LOG.c.client_id.is_not_distinct_from(bound_client_id))
            .order_by(_LOG.c.seq).limit(1).scalar_subquery())


def _withdrawn_in_chain(consent_id: Any) -> Exists:
    """Whether the chain records the withdrawal of the consent row (its id column)."""
    return exists().where(consent_events(), _LOG.c.outcome == Outcome.WITHDRAWN.value, _LOG.c.consent_id == consent_id)


def _ended_in_chain(consent_id: Any) -> ScalarSelect[datetime | None]:
    """When the chain records the consent row (its id column) ended with its application; NULL if it does not."""
    return (select(func.min(_LOG.c.recorded_at))
            .where(consent_events(), _LOG.c.outcome == Outcome.ENDED.value, _LOG.c.consent_id == consent_id)
            .scalar_subquery())


class Consent(Base):
    """One consent of one citizen (by subject key)."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    matter: Mapped[str] = mapped_column(String(64))
    proofs: Mapped[list[str]] = mapped_column(JSON)
    consumer_department: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    bound_client_id: Mapped[str | None] = mapped_column(String(128))
    """A counter consent recorded by a department system is usable by that system only."""
    application_id: Mapped[str | None] = mapped_column(String(36), index=True)
    """The application a counter consent was recorded for: it ends when the application is done."""
    items: Mapped[dict[str, list[str]] | None] = mapped_column(JSON)
    """The data items it releases by the code it names, as its preview listed them when it was
    given (`released_items`): an access releasing any other item is not covered. None: given
    before they were kept, it covers what the matter receives."""

    chained_terms: Mapped[str | None] = column_property(_chained_terms(id, subject_key, matter, consumer_department,
                                                                       bound_client_id))
    """The terms its grant entry in the access log records (`granted_terms`), None without one."""
    withdrawn_in_chain: Mapped[bool] = column_property(_withdrawn_in_chain(id))
    """Whether the access log records its withdrawal."""
    ended_in_chain: Mapped[datetime | None] = column_property(_ended_in_chain(id))
    """When the access log records it ended with its application, if it does."""

    def status(self, at: datetime) -> ConsentStatus:
        return consent_status(self, at)


_CONSENTS = Consent.__table__

ConsentTerms = Row[Any]
"""What the exchange checks of a consent, as a plain row (`consent_terms`; no ORM object, since
every exchange request reads it): id, subject_key, matter, proofs, consumer_department,
channel, granted_at, expires_at, withdrawn_at, bound_client_id, application_id, items, and what the chain
records of it: chained_terms, withdrawn_in_chain, ended_in_chain."""
_TERMS = select(_CONSENTS.c.id, _CONSENTS.c.subject_key, _CONSENTS.c.matter, _CONSENTS.c.proofs,
                _CONSENTS.c.consumer_department, _CONSENTS.c.channel, _CONSENTS.c.granted_at, _CONSENTS.c.expires_at,
                _CONSENTS.c.withdrawn_at, _CONSENTS.c.bound_client_id, _CONSENTS.c.application_id,
                _CONSENTS.c["items"],
                _chained_terms(_CONSENTS.c.id, _CONSENTS.c.subject_key, _CONSENTS.c.matter,
                               _CONSENTS.c.consumer_department, _CONSENTS.c.bound_client_id).label("chained_terms"),
                _withdrawn_in_chain(_CONSENTS.c.id).label("withdrawn_in_chain"),
                _ended_in_chain(_CONSENTS.c.id).label("ended_in_chain"))
_TERMS_BY_ID = _TERMS.where(_CONSENTS.c.id == bindparam("id")).with_for_update(read=True)
_TERMS_BY_IDS = _TERMS.where(_CONSENTS.c.id.in_(bindparam("ids", expanding=True))) \
    .order_by(_CONSENTS.c.id).with_for_update(read=True)
_CANDIDATES = _TERMS.where(_CONSENTS.c.subject_key == bindparam("subject_key"),
                           _CONSENTS.c.matter == bindparam("matter"),
                           _CONSENTS.c.consumer_department == bindparam("department")) \
    .order_by(_CONSENTS.c.id).with_for_update(read=True)
"""The citizen's consents for one matter and department (the only ones that can cover a request),
locked in id order as a withdrawal locks them, so the two never deadlock; `find_valid_consent`
tries them newest first."""
# The terms are read share-locked (PostgreSQL; SQLite runs one writer at a time): a withdrawal
# waits for the transaction that decides an access on the consent, and takes its time after it,
# so the access log never shows an access allowed after the withdrawal committed.


def consent_status(consent: Consent | ConsentTerms, at: datetime) -> ConsentStatus:
    """Withdrawn (in its row or in the chain), expired at `at` (or ended with its application by
    then, in its row or in the chain), or active."""
    if consent.withdrawn_at is not None or consent.withdrawn_in_chain:
        return ConsentStatus.WITHDRAWN
    ended = consent.ended_in_chain
    return ConsentStatus.EXPIRED if at >= consent.expires_at or (ended is not None and at >= ended) \
        else ConsentStatus.ACTIVE


def granted_terms(consent: Consent | ConsentTerms, *, expires_at: str | None = None) -> str:
    """A consent's terms as its grant entry's `purpose` holds them: canonical JSON of its
    application, channel, expiry (UTC, microseconds; `expires_at` in its place when given), items
    and proofs. Its citizen, matter, department and department system are the entry's own fields."""
    return canonical_json({
        "application_id": consent.application_id, "channel": consent.channel,
        "expires_at": expires_at or utc_stamp(consent.expires_at), "items": consent.items, "proofs": consent.proofs,
    }).decode()


def as_granted(consent: Consent | ConsentTerms) -> bool:
    """Whether the chain records the consent as granted on the terms its row holds, or on terms
    that ran longer (a counter consent ends with its application, `end_application_consents`)."""
    if consent.chained_terms is None:
        return False
    try:
        granted_expiry = json.loads(consent.chained_terms)["expires_at"]
    except (ValueError, TypeError, KeyError):
        return False
    return (isinstance(granted_expiry, str) and utc_stamp(consent.expires_at) <= granted_expiry
            and granted_terms(consent, expires_at=granted_expiry) == consent.chained_terms)


def consent_entries(consents: Sequence[Consent | ConsentTerms], outcome: Outcome) -> list[AccessEntry]:
    """The access log's entries of the consents' grant (with their terms), withdrawal or end
    with their application."""
    return [AccessEntry(outcome=outcome, client_id=consent.bound_client_id,
                        consumer_department=consent.consumer_department, matter=consent.matter,
                        subject_key=consent.subject_key, consent_id=consent.id,
                        purpose=granted_terms(consent) if outcome is Outcome.GRANTED else None)
            for consent in consents]


class ConsentNotFound(NotFound):
    """No consent with this id belongs to the citizen."""


class ConsentRefused(ExchangeError):
    """No valid consent covers the request; `reason` is the access log's reason code."""

    reason = "consent-required"


class ConsentMissing(ConsentRefused):
    reason = "consent-missing"


class ConsentExpired(ConsentRefused):
    reason = "consent-expired"


class ConsentWithdrawn(ConsentRefused):
    reason = "consent-withdrawn"


class ConsentMismatch(ConsentRefused):
    """The consent exists but covers another matter, proof or department."""

    reason = "consent-mismatch"


@dataclass(frozen=True)
class ConsentRequest:
    """What a citizen agrees to."""

    matter: str
    proofs: Sequence[str]
    consumer_department: str
    days: int


@dataclass(frozen=True)
class ReleasedProof:
    """One proof a consent releases: where its data comes from and which items of it."""

    code: str
    name_zh: str
    source_department_zh: str
    items_zh: tuple[str, ...]


@dataclass(frozen=True)
class ConsentPreview:
    """What a consent would release, to whom, for what and how long (nothing is recorded)."""

    request: ConsentRequest
    matter_name_zh: str
    legal_basis_zh: str
    department_name_zh: str
    proofs: tuple[ReleasedProof, ...]


def consentable_proofs(catalog: Catalog, matter_code: str, department: str) -> list[str]:
    """The proofs about a person `department` may pull from a source for the matter (data
    shared, e-licenses, online-issued, and commitments, which 事后核查 checks at the source), then
    the license types it may use there that answer no proof (`usable_licenses`); empty for an
    unknown matter or a department that does not handle it."""
    matter = catalog.matters.get(matter_code)
    if matter is None:
        return []
    proofs = [catalog.proofs[entry.proof] for entry in matter.proofs
              if catalog.may_request(department, matter.code, entry.proof)]
    return [proof.code for proof in proofs if proof.subject is Subject.PERSON
            and (matter.mode_for(proof).pulled or matter.mode_for(proof) is Mode.COMMITMENT)] + [
        license_type.code for license_type in usable_licenses(catalog, matter, department)]


def usable_licenses(catalog: Catalog, matter: Matter, department: str) -> list[LicenseType]:
    """The license types about a person that answer no proof of the catalog and that the 用证清单
    lets `department` use in `matter`: a consent names them by their own code."""
    return [license_type for license_type in catalog.licenses.values()
            if license_type.proof is None and license_type.holder is Subject.PERSON
            and license_type.use_for(department, matter.code) is not None]


def consented_name_zh(catalog: Catalog, code: str) -> str:
    """The name of what a consent lists: a proof, or a license type that answers none."""
    named = catalog.proofs.get(code) or catalog.licenses.get(code)
    return named.name_zh if named else code


def preview_consent(catalog: Catalog, request: ConsentRequest) -> ConsentPreview:
    """What granting `request` would release; `InvalidInput`/`UnknownCode` as `grant_consent`."""
    matter = _checked(catalog, request)
    asked = set(request.proofs)
    proofs = []
    for code in [entry.proof for entry in matter.proofs if entry.proof in asked]:
        proof = catalog.proofs[code]
        proofs.append(ReleasedProof(code=code, name_zh=proof.name_zh,
                                    source_department_zh=catalog.departments[proof.department].legal_name_zh,
                                    items_zh=tuple(_released(catalog, matter, code, request.consumer_department).values())))
    for license_type in usable_licenses(catalog, matter, request.consumer_department):
        if license_type.code in asked:
            proofs.append(ReleasedProof(
                code=license_type.code, name_zh=license_type.name_zh,
                source_department_zh=catalog.departments[license_type.department].legal_name_zh,
                items_zh=tuple(_released(catalog, matter, license_type.code, request.consumer_department).values())))
    normalised = ConsentRequest(matter=matter.code, proofs=tuple(proof.code for proof in proofs),
                                consumer_department=request.consumer_department, days=request.days)
    return ConsentPreview(request=normalised, matter_name_zh=matter.name_zh, legal_basis_zh=matter.legal_basis_zh,
                          department_name_zh=catalog.departments[request.consumer_department].legal_name_zh,
                          proofs=tuple(proofs))


def released_items(catalog: Catalog, matter: Matter, code: str, department: str) -> tuple[str, ...]:
    """The names of the data items a consent naming `code` releases to `department` now (see
    `_released`)."""
    return tuple(_released(catalog, matter, code, department))


def _released(catalog: Catalog, matter: Matter, code: str, department: str) -> dict[str, str]:
    """The data items a consent naming `code` releases to `department` now, each with its label:
    for a proof, the fields the matter receives (labelled as the proof labels them), then the
    items of each license answering the proof that the 用证清单 lets the department use in the
    matter on that consent instead (each once); for a license type answering no proof, the items
    the 用证清单 lets it use."""
    if code not in catalog.proofs:
        license_type = catalog.licenses[code]
        use = license_type.use_for(department, matter.code)
        return {name: license_type.item(name).name_zh for name in (use.items if use else ())}
    proof = catalog.proofs[code]
    labels = {name: proof.item(name).name_zh for name in matter.fields_for(code)}
    for license_type in catalog.licenses.values():
        use = license_type.use_for(department, matter.code) if license_type.proof == code else None
        for name in use.items if use else ():
            labels.setdefault(name, license_type.item(name).name_zh)
    return labels


def consents_left_short(session: Session, catalog: Catalog, now: datetime) -> dict[str, int]:
    """By matter code, how many running consents (neither withdrawn nor expired, their items
    kept) do not release every data item the matter receives under `catalog`: an access on one
    is refused as `consent-mismatch` until the citizen consents again on a preview listing the
    rest. For a publication that widens a matter to say so (one pass over the running consents)."""
    released: dict[tuple[str, str, str], frozenset[str]] = {}
    short: dict[str, int] = {}
    running = session.execute(select(_CONSENTS.c.matter, _CONSENTS.c.consumer_department, _CONSENTS.c.proofs,
                                     _CONSENTS.c["items"])
                              .where(_CONSENTS.c.withdrawn_at.is_(None), _CONSENTS.c.expires_at > now)
                              .execution_options(yield_per=1000))  # read in batches: there may be many
    for matter_code, department, codes, items in running:
        matter = catalog.matters.get(matter_code)
        if items is None or matter is None:
            continue  # a consent given before items were kept covers what the matter receives
        for code in codes:
            if (matter_code, code, department) not in released:
                # a proof the matter no longer receives releases nothing
                known = any(entry.proof == code for entry in matter.proofs) or code in catalog.licenses
                released[matter_code, code, department] = frozenset(
                    released_items(catalog, matter, code, department) if known else ())
            if not released[matter_code, code, department] <= set(items.get(code, ())):
                short[matter_code] = short.get(matter_code, 0) + 1
                break
    return short


def grant_consent(
    session: Session,
    catalog: Catalog,
    subject_key: str,
    request: ConsentRequest,
    *,
    channel: Channel,
    now: datetime | None = None,
    bound_client_id: str | None = None,
    application_id: str | None = None,
) -> Consent:
    """Record a consent after checking it against the live catalog; `bound_client_id` limits it
    to that department system (a counter consent recorded for one application or tenancy)."""
    [consent] = grant_consents(session, catalog, [(subject_key, request)], channel=channel, now=now,
                               bound_client_id=bound_client_id, application_id=application_id)
    return consent


def grant_consents(
    session: Session,
    catalog: Catalog,
    grants: Sequence[tuple[str, ConsentRequest]],
    *,
    channel: Channel,
    now: datetime | None = None,
    bound_client_id: str | None = None,
    application_id: str | None = None,
) -> list[Consent]:
    """`grant_consent` for each (subject key, request), written together (one flush): a
    household's counter consents."""
    at = now or _now()
    consents = []
    for subject_key, request in grants:
        matter = _checked(catalog, request)
        consents.append(Consent(
            id=str(uuid.uuid4()),
            subject_key=subject_key,
            matter=matter.code,
            proofs=sorted(set(request.proofs)),
            consumer_department=request.consumer_department,
            channel=channel.value,
            granted_at=at,
            expires_at=at + timedelta(days=request.days),
            bound_client_id=bound_client_id,
            application_id=application_id,
            items={code: list(released_items(catalog, matter, code, request.consumer_department))
                   for code in sorted(set(request.proofs))},
        ))
    if consents:
        session.add_all(consents)
        session.flush()
        append_accesses(session, consent_entries(consents, Outcome.GRANTED), now=at)  # the chain's lock: held to commit
        for consent in consents:  # as the chain now records them, without reading it back
            set_committed_value(consent, "chained_terms", granted_terms(consent))
            set_committed_value(consent, "withdrawn_in_chain", False)
            set_committed_value(consent, "ended_in_chain", None)
    return consents


def _checked(catalog: Catalog, request: ConsentRequest) -> Matter:
    """The request's matter, once the request is checked against the live catalog."""
    matter = catalog.matters.get(request.matter)
    if matter is None:
        raise UnknownCode("matter", f"the live catalog has no matter {request.matter!r}",
                          f"现行目录中没有事项 {request.matter}")
    department = catalog.departments.get(request.consumer_department)
    if department is None:
        raise UnknownCode("department", f"the live catalog has no department {request.consumer_department!r}",
                          f"现行目录中没有部门 {request.consumer_department}")
    if department.code not in matter.consumers:
        raise InvalidInput(
            "department",
            f"{department.code!r} is not a consumer of matter {matter.code} (consumers: {', '.join(matter.consumers)})",
            f"{department.legal_name_zh}不办理事项「{matter.name_zh}」",
        )
    if not request.proofs:
        raise InvalidInput("proofs", "name at least one proof", "请至少列出一项证明")
    required = {entry.proof for entry in matter.proofs} | {
        license_type.code for license_type in usable_licenses(catalog, matter, department.code)}
    foreign = sorted(set(request.proofs) - required)
    if foreign:
        raise InvalidInput("proofs", f"matter {matter.code} does not require {', '.join(foreign)}",
                           f"事项「{matter.name_zh}」不需要 {'、'.join(foreign)}")
    if not 1 <= request.days <= MAX_CONSENT_DAYS:
        raise InvalidInput("days", f"must be between 1 and {MAX_CONSENT_DAYS}", f"有效天数须在 1 至 {MAX_CONSENT_DAYS} 之间")
    return matter


def withdraw_consent(
    session: Session, consent_id: str, *, subject_key: str | None, now: datetime | None = None
) -> Consent:
    """Withdraw a consent; a citizen passes their subject key, an operator None.

    Withdrawing twice keeps the first withdrawal time. Another citizen's consent is reported
    as not found, so consent ids reveal nothing. The consent's row is locked first (with its twins, below), so a
    withdrawal waits for any access being decided on the consent (which reads it share-locked)
    and takes its time after that access was logged.

    The citizen's other consents to the same department for the same matter and proofs, given
    the same way and not yet withdrawn (as the chain records it), are withdrawn with it (the same link agreed to twice):
    the department can then no longer pull on any of them, as the citizen is told.
    """
    consent = session.get(Consent, consent_id) if is_record_id(consent_id) else None
    if consent is None or (subject_key is not None and consent.subject_key != subject_key):
        raise ConsentNotFound(f"no consent {consent_id!r}")
    same_terms = [Consent.subject_key == consent.subject_key, Consent.matter == consent.matter,
                  Consent.consumer_department == consent.consumer_department, Consent.channel == consent.channel,
                  _same_or_both_null(Consent.bound_client_id, consent.bound_client_id),
                  _same_or_both_null(Consent.application_id, consent.application_id)]
    # every row locked in one statement, in id order: two withdrawals of twins at once never deadlock,
    # nor a withdrawal and a pull (`_CANDIDATES`); a twin counts as withdrawn as the chain records it
    locked = session.scalars(select(Consent).where(*same_terms).order_by(Consent.id).with_for_update()
                             .execution_options(populate_existing=True)).all()  # as they stand once locked
    withdrawing = [other.id for other in locked if other.id == consent.id or (
        sorted(other.proofs) == sorted(consent.proofs) and not other.withdrawn_in_chain)]
    # the time after the locks: after any access decided on them; only where still not withdrawn
    # when written: a withdrawal meanwhile keeps its time
    at = now or _now()
    session.execute(update(Consent).where(Consent.id.in_(withdrawing), Consent.withdrawn_at.is_(None))
                    .values(withdrawn_at=at))
    running = [other for other in locked if other.id in withdrawing and not other.withdrawn_in_chain]
    append_accesses(session, consent_entries(running, Outcome.WITHDRAWN), now=at)
    session.refresh(consent)
    return consent


def _same_or_both_null(column: Any, value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def end_application_consents(session: Session, application_id: str, now: datetime) -> int:
    """End the counter consents recorded for an application that is done (decided, and its
    commitments checked), each with an entry of outcome `ended` in the access log (its chain's
    lock held to the caller's commit); how many were still running."""
    running = session.scalars(select(Consent).where(Consent.application_id == application_id, Consent.expires_at > now)
                              .order_by(Consent.id).with_for_update()).all()
    if not running:
        return 0
    session.execute(update(Consent).where(Consent.id.in_([consent.id for consent in running])).values(expires_at=now))
    append_accesses(session, consent_entries(running, Outcome.ENDED), now=now)
    return len(running)


@dataclass(frozen=True)
class ConsentsAgainstChain:
    """What `check_consents_against_chain` found: the consents kept; those whose row the chain
    does not record as granted on its terms (no consent to the exchange); those the chain records
    as withdrawn or ended with their application whose row says otherwise; those withdrawn in
    their row only; and consents the chain records as granted that have no row."""

    kept: int
    unrecorded: int
    end_undone: int
    withdrawn_beside: int
    rows_missing: int

    @property
    def differing(self) -> int:
        return self.unrecorded + self.end_undone + self.withdrawn_beside + self.rows_missing


def check_consents_against_chain(session: Session) -> ConsentsAgainstChain:
    """Compare every consent's row with what the access log's chain records of it (read in
    batches), and every consent the chain records with the rows: for the auditor, since the
    exchange itself never relies on a row the chain does not back (`as_granted`, `consent_status`)."""
    kept = unrecorded = undone = beside = 0
    for consent in session.execute(_TERMS.execution_options(yield_per=1000)):
        kept += 1
        if not as_granted(consent):
            unrecorded += 1
        elif (consent.withdrawn_in_chain and consent.withdrawn_at is None
              or consent.ended_in_chain is not None and consent.expires_at > consent.ended_in_chain):
            undone += 1
        elif consent.withdrawn_at is not None and not consent.withdrawn_in_chain:
            beside += 1
    missing = session.scalar(select(func.count(func.distinct(_LOG.c.consent_id))).where(
        consent_events(), _LOG.c.outcome == Outcome.GRANTED.value,
        ~exists().where(_CONSENTS.c.id == _LOG.c.consent_id))) or 0
    return ConsentsAgainstChain(kept, unrecorded, undone, beside, missing)


def list_consents(session: Session, subject_key: str) -> list[Consent]:
    """The citizen's consents, newest first: those the chain records as granted (`as_granted`)."""
    query = select(Consent).where(Consent.subject_key == subject_key)
    return [consent for consent in session.scalars(query.order_by(Consent.granted_at.desc(), Consent.id))
            if as_granted(consent)]


def consent_channels(session: Session, consent_ids: Collection[str]) -> dict[str, str]:
    """How each of `consent_ids` was recorded (a `Channel`), by id; unknown ids are left out."""
    ids = sorted(consent_id for consent_id in consent_ids if is_record_id(consent_id))
    if not ids:
        return {}
    rows = session.execute(select(Consent.id, Consent.channel).where(Consent.id.in_(ids)))
    return {row.id: row.channel for row in rows}


def consent_terms(session: Session, consent_id: str) -> ConsentTerms | None:
    """The consent `consent_id` as a plain row, if there is one (read on the session's connection)."""
    if not is_record_id(consent_id):
        return None
    return session.connection().execute(_TERMS_BY_ID, {"id": consent_id}).one_or_none()


def held_consents(session: Session, consent_ids: Sequence[str | None]) -> dict[str, ConsentTerms]:
    """The consents named in `consent_ids` that exist, by id, read in one query: a batch of
    requests names the same few consents many times. Hand it to `find_valid_consent` as `held`
    within the same transaction."""
    ids = sorted({consent_id for consent_id in consent_ids if consent_id is not None and is_record_id(consent_id)})
    if not ids:
        return {}
    return {row.id: row for row in session.connection().execute(_TERMS_BY_IDS, {"ids": ids})}


ENDED_AMONG: Select[tuple[str, str]] = select(
    _CONSENTS.c.id, case((_CONSENTS.c.withdrawn_at.is_not(None), ConsentWithdrawn.reason), else_=ConsentExpired.reason)
).where(_CONSENTS.c.id.in_(bindparam("consent_ids", expanding=True)),
        or_(_CONSENTS.c.withdrawn_at.is_not(None), _CONSENTS.c.expires_at <= bindparam("at")))
"""Which of the consents `consent_ids` are no longer in force `at`, each with the access log's
reason: withdrawn, or expired (also ended with its application, which sets the end to then).
Built once (every exchange request's store step reads it). For a plain read, taking no lock, by a
step that already locks other rows (an application's) in the order a withdrawal of the
application takes them the other way round."""


def find_valid_consent(
    session: Session,
    subject_key: str,
    consent_id: str | None,
    matter: str,
    proof: str,
    consumer_department: str,
    at: datetime,
    client_id: str | None = None,
    held: Mapping[str, ConsentTerms] | None = None,
    releases: Collection[str] = (),
) -> ConsentTerms:
    """The consent that lets `consumer_department` (its system `client_id`) pull `proof` for
    `matter` at `at`, releasing the data items `releases`; a consent bound to another system does
    not, nor one given when the matter received less (its items do not hold all of `releases`).

    With `consent_id`, exactly that consent of this citizen must cover the request; without
    one, any active consent of the citizen that covers it will do. Raises `ConsentMissing`,
    `ConsentWithdrawn`, `ConsentExpired` or `ConsentMismatch` (checked in that order, except that
    a consent given to another department is a `ConsentMismatch` saying only that: its terms and
    state are the citizen's business with that department). `held`
    (`held_consents` of the same transaction, naming `consent_id`) saves reading it again.
    """
    if consent_id is None:
        candidates = session.connection().execute(
            _CANDIDATES, {"subject_key": subject_key, "matter": matter, "department": consumer_department})
        for candidate in sorted(candidates, key=lambda row: row.granted_at, reverse=True):  # given at once: by id
            if as_granted(candidate) and consent_status(candidate, at) is ConsentStatus.ACTIVE \
                    and _covers(candidate, matter, proof, consumer_department, client_id, releases):
                return candidate
        raise ConsentMissing(f"the citizen has given no active consent for {proof} in {matter} to {consumer_department}")
    consent = held.get(consent_id) if held is not None else consent_terms(session, consent_id)
    if consent is None or consent.subject_key != subject_key:
        raise ConsentMissing(f"consent {consent_id!r} does not exist for this citizen")
    if consent.consumer_department != consumer_department:  # another's: nothing of its terms or state is told
        raise ConsentMismatch(f"consent {consent_id} was not given to {consumer_department}")
    if not as_granted(consent):
        raise ConsentMissing(f"consent {consent_id!r} is not recorded in the access log as given on these terms")
    if consent_status(consent, at) is ConsentStatus.WITHDRAWN:  # whatever its time: it committed before this access can
        raise ConsentWithdrawn(f"consent {consent_id} was withdrawn")
    if consent_status(consent, at) is ConsentStatus.EXPIRED:  # also ended with its application
        raise ConsentExpired(f"consent {consent_id} expired")
    if not _covers(consent, matter, proof, consumer_department, client_id, ()):
        raise ConsentMismatch(
            f"consent {consent_id} covers {', '.join(consent.proofs)} in {consent.matter}"
            f"{' through one department system only' if consent.bound_client_id else ''}, "
            f"not {proof} in {matter}"
        )
    if not _covers(consent, matter, proof, consumer_department, client_id, releases):
        given = (consent.items or {}).get(proof, ())
        raise ConsentMismatch(f"consent {consent_id} released {', '.join(given)} of {proof}; {matter} now receives "
                              f"{', '.join(sorted(set(releases) - set(given)))} too: ask the citizen to consent again")
    return consent


def _covers(consent: Consent | ConsentTerms, matter: str, proof: str, consumer_department: str,
            client_id: str | None, releases: Collection[str]) -> bool:
    return (consent.matter == matter and proof in consent.proofs and consent.consumer_department == consumer_department
            and consent.bound_client_id in (None, client_id)
            and (consent.items is None or set(releases) <= set(consent.items.get(proof, ()))))



def _now() -> datetime:
    return datetime.now(timezone.utc)
