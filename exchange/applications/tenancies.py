"""Tenancies: the current beneficiaries of a matter (for 公租房 the households renting public
housing) that the annual re-check (recheck.py) goes through.

`enrol_tenancy` records a beneficiary household with the counter consents the re-check's pulls
need.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.applications.context import HandlingContext
from exchange.applications.counter_consents import with_counter_consents
from exchange.applications.decision import Decision
from exchange.applications.parties import Parties
from exchange.applications.recheck import recheck_matter, recheck_pulls
from exchange.applications.recheck_records import Tenancy, TenancyStatus
from exchange.clients import AuthenticatedClient
from exchange.consent import MAX_CONSENT_DAYS
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
