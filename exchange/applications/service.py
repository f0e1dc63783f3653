"""The use cases of matter handling: file an application, add commitments to one that waits,
read one, withdraw one, and resume the ones that wait for a source.

Filing checks everything before anything is stored (the matter and the client's right to
handle it, every party's identifier, the options, the offered commitments and their
signature); a repeated request id of the same client returns the application it created (the
unique claim of the request id tells a repeat, so a new filing reads nothing before it writes).
The filing stores the application with the items of its first round, and, when the caller asks
for it, with the lease the caller then resolves it under. Resolving is
`resolution.resolve_application`, run by the caller right away (in the request, or in the
background) and by `resume_due` for whatever a dead process or a down source left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.canonical import canonical_sha256
from catalog.citizen_id import parse_id_number
from catalog.credit_code import parse_uscc
from catalog.errors import InvalidIdentifier
from catalog.model import Matter, OptionType, Scope
from exchange.answer_store import RequestIdConflict
from exchange.applications.commitments import CommitmentOffer, Signature, SigningChannel, checked_offers
from exchange.applications.context import LEASE, HandlingContext
from exchange.applications.counter_consents import end_consents_unless_checking, needed_proofs, with_counter_consents
from exchange.applications.reading import concluded
from exchange.applications.parties import (APPLICANT, CHILD, DECEASED, EMPLOYER, SPOUSE_RELATIONS, Parties, Party,
                                          about_key)
from exchange.applications.records import Application, ApplicationCase, ApplicationItem, ApplicationStatus, ItemState
from exchange.applications.leases import Lease
from exchange.applications.resolution import Filing, Loaded, plan_filed, resolve_application
from exchange.clients import AuthenticatedClient
from exchange.errors import ExchangeError, InvalidInput, NotFound
from exchange.identity import InvalidAssertion
from exchange.pull_service import REQUEST_ID
from exchange.record_ids import is_record_id, new_record_id
from exchange.subjects import subject_key
from exchange.unit_of_work import locked_row

DEFAULT_CONSENT_DAYS = 90

log = logging.getLogger(__name__)


class NotAConsumer(ExchangeError):
    """The client's department does not handle this matter (deny by default)."""


class CaseAlreadyFiled(ExchangeError):
    """The department filed this case number of the matter before, under another request id."""


class MatterNotFound(NotFound):
    """The matter named in the path is not in the live catalog."""


class ApplicationNotFound(NotFound):
    """No such application, or not one the caller's department handles."""


class NotTheFiler(ExchangeError):
    """Only the department that filed an application withdraws it (not one with a part in it)."""


class ApplicationBusy(ExchangeError):
    """A process is resolving the application now (it holds the lease): try again shortly."""

    retry_after_seconds = 2


class ApplicationWithdrawn(ExchangeError):
    """The application was withdrawn: it takes nothing more (409: the request contradicts its state)."""


class ApplicationConcluded(ExchangeError):
    """The application is concluded (办结, `reading.concluded`): it is not withdrawn (409: the
    request contradicts its state; its departments may already act on it)."""


@dataclass(frozen=True)
class PartyInput:
    name: str
    id_number: str | None = field(default=None, repr=False)
    uscc: str | None = None
    relation: str | None = None
    consent_id: str | None = None


@dataclass(frozen=True)
class ApplicationRequest:
    """What a consumer system sends to file an application."""

    request_id: str
    caseworker_id: str
    case_number: str
    applicant: PartyInput
    members: Sequence[PartyInput] = ()
    child: PartyInput | None = None
    deceased: PartyInput | None = None
    employer: PartyInput | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    counter_consent: bool = False
    consent_days: int = DEFAULT_CONSENT_DAYS
    commitments: Sequence[Mapping[str, Any]] = ()
    signature: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Filed:
    application_id: str
    created: bool
    filing: Filing | None = None
    """What a new filing made with a lease hands to the caller that resolves it (`resolve_application`)."""


def submit_application(ctx: HandlingContext, client: AuthenticatedClient, matter_code: str,
                       request: ApplicationRequest, lease: Lease | None = None) -> Filed:
    """File the application (see the module docstring); resolving it is the caller's next step,
    under `lease` if given (taken with the filing: resolving then claims nothing; a replay of an
    earlier filing takes no lease)."""
    matter = ctx.catalog.matters.get(matter_code)
    if matter is None:
        raise MatterNotFound(f"the live catalog has no matter {matter_code!r}")
    if client.department_code not in matter.consumers:
        raise NotAConsumer(f"the catalog does not let {client.department_code} handle {matter.code} "
                           f"(handled by {', '.join(matter.consumers)})")
    if not REQUEST_ID.fullmatch(request.request_id):
        raise InvalidInput("request_id", "1-128 characters of A-Z a-z 0-9 . _ : -")
    parties = _parties(matter, request)
    options = _options(matter, request.options)
    signature = _signature(ctx, request.signature, request.caseworker_id, parties.applicant) \
        if request.commitments else None
    offers = checked_offers(matter, ctx.catalog.proofs, parties, request.commitments, signature) if signature else []
    applicant_key = subject_key(ctx.pull.subject_hash_key, parties.applicant.id_number or "")
    request_sha256 = canonical_sha256(_fingerprint(ctx, matter, request, parties, options, offers))
    now = ctx.now()
    try:
        with ctx.uow.step("file-application") as session:
            filed = _file(ctx, session, client, matter, request, parties, options, offers, applicant_key,
                          request_sha256, now, lease)
    except IntegrityError:  # the request id or the case was claimed before (or meanwhile)
        replay = _filed_before(ctx, client, request.request_id, request_sha256)
        if replay is not None:
            return replay
        _refuse_filed_case(ctx, client, matter, request.case_number)
        raise
    return Filed(filed.application.id, created=True, filing=Filing(lease, filed, client) if lease else None)


def _filed_before(ctx: HandlingContext, client: AuthenticatedClient, request_id: str,
                  request_sha256: str) -> Filed | None:
    """The application filed earlier under this request id; RequestIdConflict if it differs."""
    with ctx.uow.read() as session:
        existing = session.scalars(select(Application).where(Application.client_id == client.client_id,
                                                             Application.request_id == request_id)).first()
        if existing is None:
            return None
        if existing.request_sha256 != request_sha256:
            raise RequestIdConflict(f"request id {request_id!r} was used for a different application")
        return Filed(existing.id, created=False)


def _refuse_filed_case(ctx: HandlingContext, client: AuthenticatedClient, matter: Matter, case_number: str) -> None:
    """`CaseAlreadyFiled` if the department filed this case of the matter before."""
    with ctx.uow.read() as session:
        filed = session.get(ApplicationCase, (client.department_code, matter.code, case_number))
        if filed is not None:
            raise CaseAlreadyFiled(f"case {case_number!r} of {matter.code} was filed already as application "
                                   f"{filed.application_id}")


def _file(ctx: HandlingContext, session: Session, client: AuthenticatedClient, matter: Matter,
          request: ApplicationRequest, parties: Parties, options: dict[str, Any], offers: list[CommitmentOffer],
          applicant_key: str, request_sha256: str, now: datetime, lease: Lease | None) -> Loaded:
    """Add the application (with its counter consents, the items of its first round and `lease`)
    in the caller's step; the application as filed. The unique (client, request id) makes the
    step fail if an identical filing won the race, the case's claim (`ApplicationCase`) if the
    department filed the case before under another request id."""
    application_id = new_record_id()
    if request.counter_consent:
        parties = with_counter_consents(ctx, session, matter.code, client, parties,
                                        needed_proofs(ctx.catalog, matter, parties), request.consent_days,
                                        application_id)
    application = Application(
        id=application_id, matter=matter.code, catalog_hash=ctx.catalog.content_hash(), client_id=client.client_id,
        consumer_department=client.department_code, request_id=request.request_id, request_sha256=request_sha256,
        caseworker_id=request.caseworker_id, case_number=request.case_number, applicant_key=applicant_key,
        about_key=about_key(ctx.pull.subject_hash_key, parties), options=options,
        parties_sealed=ctx.seal(parties.to_document(), application_id),
        offers_sealed=ctx.seal({"offers": [offer.document() for offer in offers]}, application_id),
        status=ApplicationStatus.RESOLVING.value, priorities=[], flagged=False, created_at=now, updated_at=now,
        **(lease.columns() if lease else {}),
    )
    session.add(application)
    session.add(ApplicationCase(consumer_department=client.department_code, matter=matter.code,
                                case_number=request.case_number, application_id=application_id))
    session.flush()
    return plan_filed(ctx, session, application, parties, offers)


def add_commitments(ctx: HandlingContext, client: AuthenticatedClient, application_id: str,
                    commitments: Sequence[Mapping[str, Any]], signature: Mapping[str, Any] | None) -> None:
    """Add the applicant's signed commitments to an application that is not decided yet."""
    application = visible_application(ctx, client, application_id)
    matter = ctx.catalog.matters.get(application.matter)
    if matter is None:
        raise InvalidInput("commitments", f"matter {application.matter} is no longer in the catalog")
    parties = Parties.from_document(ctx.open(application.parties_sealed, application.id))
    signed = _signature(ctx, signature, application.caseworker_id, parties.applicant)
    offers = checked_offers(matter, ctx.catalog.proofs, parties, commitments, signed)
    with ctx.uow.step("add-commitments") as session:
        row = locked_row(session, Application, application.id)
        if row.status == ApplicationStatus.WITHDRAWN:
            raise ApplicationWithdrawn(f"application {row.id} was withdrawn; it takes no commitments")
        if row.status == ApplicationStatus.DECIDED:  # read under the lock: decided meanwhile counts too
            raise InvalidInput("commitments", "the application is already decided")
        known = [CommitmentOffer.from_document(o) for o in ctx.open(row.offers_sealed, row.id)["offers"]]
        taken = {(proof, party) for proof, party in session.execute(
            select(ApplicationItem.proof, ApplicationItem.party).where(
                ApplicationItem.application_id == row.id, ApplicationItem.state == ItemState.COMMITTED.value))}
        values_of = {(offer.proof, offer.party): dict(offer.values) for offer in known}
        for index, offer in enumerate(offers):  # a commitment taken stands: other values would not reach the decision
            if (offer.proof, offer.party) in taken and dict(offer.values) != values_of.get((offer.proof, offer.party)):
                raise InvalidInput(f"commitments[{index}]", f"{offer.proof} of {offer.party} is committed already "
                                                            "with other values; a commitment taken cannot be replaced")
        replaced = {(offer.proof, offer.party) for offer in offers}
        kept = [offer for offer in known if (offer.proof, offer.party) not in replaced]
        row.offers_sealed = ctx.seal({"offers": [offer.document() for offer in [*kept, *offers]]}, row.id)
        session.execute(  # a proof waiting for its source is tried again now: if it still cannot answer, this stands in
            update(ApplicationItem).where(
                ApplicationItem.application_id == row.id, ApplicationItem.state == ItemState.WAITING.value,
                or_(*(and_(ApplicationItem.proof == proof, ApplicationItem.party == party) for proof, party in replaced)))
            .values(next_attempt_at=ctx.now()))


def withdraw_application(ctx: HandlingContext, client: AuthenticatedClient, application_id: str) -> None:
    """Withdraw an application for the department that filed it, unless it is concluded
    (`ApplicationConcluded`, see `reading.concluded`; one decided needs_review with no part eligible
    still waits for a caseworker and is withdrawn): nothing resumes it after
    (`resolve_application` never claims a withdrawn one), its open tasks and commitments take no
    more input, and its counter consents end once no commitment is left to check (事后核查 of
    what the applicant signed still runs). Decided under the application's row lock, which the
    step concluding a resolution takes too: refused while a process holds the application's
    lease (`ApplicationBusy`); a second withdrawal changes nothing."""
    application = visible_application(ctx, client, application_id)
    if application.consumer_department != client.department_code:
        raise NotTheFiler(f"only {application.consumer_department}, which filed application {application_id}, "
                          "may withdraw it")
    now = ctx.now()
    with ctx.uow.step("withdraw") as session:
        row = locked_row(session, Application, application_id)
        if row.status == ApplicationStatus.WITHDRAWN:
            return
        decision = ctx.open(row.decision_sealed, f"decision\n{row.id}") \
            if row.status == ApplicationStatus.DECIDED and row.decision_sealed else None
        if concluded(row, decision):
            raise ApplicationConcluded(f"application {application_id} is decided {row.decision}, or a part of it is "
                                       "eligible; a concluded application is not withdrawn")
        if row.lease_until is not None and row.lease_until >= now:
            raise ApplicationBusy(f"application {application_id} is being resolved now; try again in a moment")
        row.status, row.withdrawn_at, row.withdrawn_by = ApplicationStatus.WITHDRAWN.value, now, client.client_id
        row.updated_at, row.lease_until, row.lease_holder = now, None, None
        session.flush()
        end_consents_unless_checking(session, application_id, now)


def visible_application(ctx: HandlingContext, client: AuthenticatedClient, application_id: str) -> Application:
    """The application if the client's department handles it (files it, or has a part in it)."""
    with ctx.uow.read() as session:
        application = session.get(Application, application_id) if is_record_id(application_id) else None
        if application is not None:
            session.expunge(application)
    if application is None or not handles(ctx, application, client.department_code):
        raise ApplicationNotFound(f"no application {application_id!r} for {client.department_code}")
    return application


def handles(ctx: HandlingContext, application: Application, department: str) -> bool:
    matter = ctx.catalog.matters.get(application.matter)
    parts = {service.department for service in matter.services} if matter else set()
    return department == application.consumer_department or department in parts


def resume_due(ctx: HandlingContext, limit: int = 100,
               after_each: Callable[[str], None] | None = None) -> list[str]:
    """Resolve again the applications a source or a dead process left behind; their ids.
    `after_each(id)` is told after each one resumed (the jobs beat their heartbeat: a backlog can
    take longer than they may go silent)."""
    now = ctx.now()
    due_item = exists().where(and_(ApplicationItem.application_id == Application.id,
                                   ApplicationItem.state == ItemState.WAITING.value,
                                   ApplicationItem.next_attempt_at <= now))
    abandoned = and_(Application.status == ApplicationStatus.RESOLVING.value,
                     or_(Application.lease_until < now,
                         and_(Application.lease_until.is_(None), Application.updated_at < now - LEASE)))
    with ctx.uow.read() as session:
        ids = list(session.scalars(select(Application.id).where(
            or_(and_(Application.status == ApplicationStatus.WAITING.value, due_item), abandoned))
            .order_by(Application.created_at).limit(limit)))
    resumed = []
    for application_id in ids:  # one application that fails is logged; the sweep goes on to the next
        try:
            if resolve_application(ctx, application_id, unless_decided=True):
                resumed.append(application_id)
                if after_each is not None:
                    after_each(application_id)
        except Exception:
            log.exception("application %s could not be resumed; the sweep goes on", application_id)
    return resumed


# --- checking the request ---------------------------------------------------------------


def _parties(matter: Matter, request: ApplicationRequest) -> Parties:
    applicant = _person(APPLICANT, request.applicant, "applicant")
    if request.members and not matter.household:
        raise InvalidInput("members", f"matter {matter.code} is not applied for by a household")
    members = tuple(_person(f"member:{n}", member, f"members[{n - 1}]") for n, member in enumerate(request.members, 1))
    _check_relations(members)
    numbers = [party.id_number for party in (applicant, *members)]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("members", "a person is listed twice in the household")
    scopes = {entry.scope for entry in matter.proofs}
    extra: dict[str, Party | None] = {}
    for ref, scope, given in ((CHILD, Scope.CHILD, request.child), (DECEASED, Scope.DECEASED, request.deceased),
                              (EMPLOYER, Scope.EMPLOYER, request.employer)):
        if scope in scopes and given is None:
            raise InvalidInput(ref, f"matter {matter.code} asks for proofs of the {ref}")
        if scope not in scopes and given is not None:
            raise InvalidInput(ref, f"matter {matter.code} asks for no proof of a {ref}")
        extra[ref] = None if given is None else (_organisation(ref, given) if scope is Scope.EMPLOYER
                                                 else _person(ref, given, ref))
    return Parties(applicant, members, extra[CHILD], extra[DECEASED], extra[EMPLOYER])


def _check_relations(members: tuple[Party, ...]) -> None:
    """Every member is given a relation to the applicant, and one at most is the spouse: the
    proofs a matter asks of the applicant and spouse are asked of that member, so a spouse left
    unnamed would go unasked (and the caseworker would not see the spouse's property)."""
    spouses = 0
    for n, member in enumerate(members):
        if not member.relation:
            raise InvalidInput(f"members[{n}].relation", "required: the member's relation to the applicant "
                                                         "(spouse, child, parent ... or other)")
        spouses += member.relation in SPOUSE_RELATIONS
        if spouses > 1:
            raise InvalidInput(f"members[{n}].relation", "an applicant has one spouse: another member is the spouse")


def _person(ref: str, given: PartyInput, where: str) -> Party:
    if not given.id_number:
        raise InvalidInput(f"{where}.id_number", "required for a person")
    try:
        number = parse_id_number(given.id_number).number
    except InvalidIdentifier as invalid:
        raise InvalidInput(f"{where}.id_number", str(invalid)) from None
    return Party(ref, _name(given, where), id_number=number, relation=given.relation, consent_id=given.consent_id)


def _organisation(ref: str, given: PartyInput) -> Party:
    try:
        code = parse_uscc(given.uscc or "").code
    except InvalidIdentifier as invalid:
        raise InvalidInput(f"{ref}.uscc", str(invalid)) from None
    return Party(ref, _name(given, ref), uscc=code)


def _name(given: PartyInput, where: str) -> str:
    """The party's name as the sources are asked with it: not blank (every pull would come back
    "not found", and the decision would name nobody)."""
    name = given.name.strip()
    if not name:
        raise InvalidInput(f"{where}.name", "required: a name, not only spaces")
    return name


def _options(matter: Matter, given: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in given.items():
        try:
            option = matter.option(name)
        except KeyError:
            raise InvalidInput(f"options.{name}", f"matter {matter.code} has no option {name!r}") from None
        if option.type is OptionType.BOOLEAN and not isinstance(value, bool):
            raise InvalidInput(f"options.{name}", "must be true or false")
        if option.type is OptionType.ENUM and (not isinstance(value, str) or value not in option.values):
            raise InvalidInput(f"options.{name}", f"must be one of {', '.join(option.values)}")
        options[name] = value
    return options


def _signature(ctx: HandlingContext, given: Mapping[str, Any] | None, caseworker_id: str, applicant: Party) -> Signature:
    """How the applicant signed: at the counter (the caseworker witnesses) or online (their own assertion)."""
    if not given:
        raise InvalidInput("signature", "commitments must come with the applicant's signature")
    now = ctx.now()
    channel = given.get("channel")
    if channel == SigningChannel.COUNTER:
        return Signature(SigningChannel.COUNTER, now, witness=caseworker_id)
    if channel != SigningChannel.ONLINE:
        raise InvalidInput("signature.channel", "must be counter or online")
    if ctx.verify_identity is None:
        raise InvalidInput("signature.channel", "online signing is not configured on this installation")
    try:
        identity = ctx.verify_identity(str(given.get("assertion") or ""))
    except InvalidAssertion as invalid:
        raise InvalidInput("signature.assertion", str(invalid)) from None
    if identity.id_number != applicant.id_number:
        raise InvalidInput("signature.assertion", "the assertion is not the applicant's")
    return Signature(SigningChannel.ONLINE, now, identity_issuer=identity.issuer)


def _fingerprint(ctx: HandlingContext, matter: Matter, request: ApplicationRequest, parties: Parties,
                 options: Mapping[str, Any], offers: Sequence[CommitmentOffer]) -> dict[str, Any]:
    """The request as compared for idempotency, ID numbers replaced by subject keys."""
    def key(party: Party) -> str:
        return subject_key(ctx.pull.subject_hash_key, party.id_number) if party.id_number else party.uscc or ""

    return {"matter": matter.code, "caseworker_id": request.caseworker_id, "case_number": request.case_number,
            "parties": [[party.ref, key(party), party.name, party.relation, party.consent_id] for party in parties.all()],
            "options": dict(options), "counter_consent": request.counter_consent, "consent_days": request.consent_days,
            "commitments": [[offer.proof, offer.party, dict(offer.values)] for offer in offers]}
