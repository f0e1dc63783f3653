"""Tenancies: the current beneficiaries of a matter (for 公租房 the households renting public
housing) that the annual re-check (recheck.py) goes through.

`enrol_tenancy` records a beneficiary household with the counter consents the re-check's pulls
need; `tenancy_consents_short` counts those a publication leaves short of a proof the re-check
now reads about every member.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.model import Catalog, Scope

from exchange.applications.context import HandlingContext
from exchange.applications.counter_consents import with_counter_consents
from exchange.applications.decision import Decision
from exchange.applications.parties import Parties
from exchange.applications.recheck import recheck_entries, recheck_matter, recheck_pulls
from exchange.applications.recheck_records import Tenancy, TenancyStatus
from exchange.clients import AuthenticatedClient
from exchange.consent import MAX_CONSENT_DAYS, Channel, Consent
from exchange.record_ids import new_record_id
from exchange.subjects import subject_key


def enrol_tenancy(ctx: HandlingContext, session: Session, matter_code: str, *, client_id: str, department: str,
                  parties: Parties, case_number: str, started_at: datetime) -> str | None:
    """Record a beneficiary household, with a counter consent of each person for the proofs the
    re-check pulls about them (for MAX_CONSENT_DAYS); its id, or None when the head already has
    an active tenancy of the matter. The caller commits."""
    matter = recheck_matter(ctx.catalog, matter_code)
    head_key = subject_key(ctx.pull.subject_hash_key, parties.applicant.id_number or "")
    if session.scalars(select(Tenancy.id).where(Tenancy.matter == matter.code, Tenancy.head_key == head_key,
                                                Tenancy.status == TenancyStatus.ACTIVE.value)).first() is not None:
        return None
    proofs_of: dict[str, list[str]] = {}
    for proof, party in recheck_pulls(matter, parties):
        proofs_of.setdefault(party.ref, []).append(proof)
    owner = AuthenticatedClient(client_id=client_id, department_code=department, name="", scopes=frozenset())
    consented = with_counter_consents(ctx, session, matter.code, owner, parties, proofs_of, MAX_CONSENT_DAYS)
    tenancy_id = new_record_id()
    session.add(Tenancy(
        id=tenancy_id, matter=matter.code, handling_department=department, client_id=client_id,
        case_number=case_number, head_key=head_key,
        parties_sealed=ctx.seal(consented.to_document(), tenancy_id),
        started_at=started_at, status=TenancyStatus.ACTIVE.value, last_outcome=Decision.ELIGIBLE.value,
    ))
    return tenancy_id


def tenancy_consents_short(session: Session, catalog: Catalog, now: datetime) -> dict[str, tuple[int, list[str]]]:
    """By matter code, of the running consents given at the counter for its tenancies (bound to
    the department's system, no application's): how many lack a proof the re-check under
    `catalog` reads about every member, or (the head's) about the applicant, and which proofs.
    The re-check pulls on the consent given at enrolment, so its pull of such a proof is refused
    as consent-required and the household goes to a caseworker: for a publication that makes a
    re-check read more to say so (one pass over those consents). Proofs of a spouse, a child or
    another single party are not counted: whose consent is whose is sealed in the tenancy."""
    reads = {code: _recheck_reads(catalog, code) for code, matter in catalog.matters.items() if matter.recheck}
    reads = {code: (members, head) for code, (members, head) in reads.items() if members or head}
    if not reads:
        return {}
    heads = (Tenancy.head_key == Consent.subject_key) & (Tenancy.matter == Consent.matter) \
        & (Tenancy.status == TenancyStatus.ACTIVE.value)
    running = session.execute(select(Consent.matter, Consent.proofs, Tenancy.id).outerjoin(Tenancy, heads).where(
        Consent.matter.in_(reads), Consent.channel == Channel.COUNTER.value, Consent.application_id.is_(None),
        Consent.bound_client_id.is_not(None), Consent.withdrawn_at.is_(None), Consent.expires_at > now)
        .execution_options(yield_per=1000))
    short: dict[str, tuple[int, list[str]]] = {}
    for matter_code, proofs, headed in running:
        members, head = reads[matter_code]
        if missing := (members | (head if headed is not None else set())) - set(proofs):
            count, named = short.get(matter_code, (0, []))
            short[matter_code] = (count + 1, sorted(set(named) | missing))
    return short


def _recheck_reads(catalog: Catalog, matter_code: str) -> tuple[set[str], set[str]]:
    """The proofs the matter's re-check reads about every member, and about the applicant."""
    entries = recheck_entries(recheck_matter(catalog, matter_code))
    return ({entry.proof for entry in entries if entry.scope is Scope.EACH_MEMBER},
            {entry.proof for entry in entries if entry.scope in (Scope.APPLICANT, Scope.APPLICANT_AND_SPOUSE)})
