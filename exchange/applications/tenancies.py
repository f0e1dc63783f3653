"""Tenancies: the current beneficiaries of a matter (for 公租房 the households renting public
housing) that the annual re-check (recheck.py) goes through.

`enrol_tenancy` records a beneficiary household with the counter consents the re-check's pulls
need; `enrol_demo_tenancies` enrols the demo population's public-housing tenants, handled by the
housing bureau through a demo system registered once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.model import Catalog
from exchange.applications.context import HandlingContext
from exchange.applications.counter_consents import with_counter_consents
from exchange.applications.decision import Decision
from exchange.applications.demo_applications import PUBLIC_RENTAL_HOUSING
from exchange.applications.parties import APPLICANT, Parties, Party
from exchange.applications.recheck import recheck_matter, recheck_pulls
from exchange.applications.recheck_records import Tenancy, TenancyStatus
from exchange.clients import AuthenticatedClient, ClientRecord, ClientScope, register_client
from exchange.consent import MAX_CONSENT_DAYS
from exchange.record_ids import new_record_id
from exchange.sources.demo_data import demo_households
from exchange.subjects import subject_key

DEMO_DEPARTMENT = "ZJ"
DEMO_CLIENT_NAME = "公租房管理系统（演示）"


@dataclass(frozen=True)
class DemoEnrolment:
    client_id: str
    enrolled: int
    """Tenancies enrolled now (a tenant household enrolled before is left as it is)."""
    tenants: int


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


def enrol_demo_tenancies(ctx: HandlingContext, folder: Path) -> DemoEnrolment:
    """Enrol the demo tenant households (demo data in `folder`) as 公租房 tenancies handled by
    the housing bureau through its demo system, registered once (its token is not kept: the
    re-check acts as it inside the exchange). Repeating it enrols nothing twice."""
    households = demo_households(folder, ctx.catalog, "tenant")
    now = ctx.now()
    enrolled = 0
    with ctx.uow.step("enrol-demo-tenancies") as session:
        client_id = _demo_client(session, ctx.catalog, now)
        for number, household in enumerate(households, 1):
            head, others = household.members[0], household.members[1:]
            parties = Parties(Party(APPLICANT, head.name, head.id_number, relation=head.relation), tuple(
                Party(f"member:{n}", member.name, member.id_number, relation=member.relation)
                for n, member in enumerate(others, 1)))
            enrolled += enrol_tenancy(ctx, session, PUBLIC_RENTAL_HOUSING, client_id=client_id,
                                      department=DEMO_DEPARTMENT, parties=parties,
                                      case_number=f"GZF-ZL-{number:05d}", started_at=now) is not None
    return DemoEnrolment(client_id, enrolled, len(households))


def _demo_client(session: Session, catalog: Catalog, now: datetime) -> str:
    existing = session.scalars(select(ClientRecord).where(
        ClientRecord.department_code == DEMO_DEPARTMENT, ClientRecord.name == DEMO_CLIENT_NAME,
        ClientRecord.revoked_at.is_(None)).order_by(ClientRecord.id)).first()
    if existing is not None:
        return existing.public_id
    record, _token = register_client(session, catalog, DEMO_DEPARTMENT, DEMO_CLIENT_NAME,
                                     [ClientScope.EXCHANGE_REQUEST, ClientScope.APPLICATIONS_WRITE], now=now)
    return record.public_id
