"""The demo population's public-housing tenants as tenancies for the annual re-check
(`exchange.applications.tenancies`), handled by the housing bureau through a demo system
registered once; `mianzheng init` and `mianzheng recheck enrol-demo` enrol them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.model import Catalog
from demo.applications import PUBLIC_RENTAL_HOUSING
from demo.data import demo_households
from exchange.applications.context import HandlingContext
from exchange.applications.parties import APPLICANT, Parties, Party
from exchange.applications.tenancies import enrol_tenancy
from exchange.clients import ClientRecord, ClientScope, register_client
from exchange.operations import console_operator

DEMO_DEPARTMENT = "ZJ"
DEMO_CLIENT_NAME = "公租房管理系统（演示）"


@dataclass(frozen=True)
class DemoEnrolment:
    client_id: str
    enrolled: int
    """Tenancies enrolled now (a tenant household enrolled before is left as it is)."""
    tenants: int


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
                                     [ClientScope.EXCHANGE_REQUEST, ClientScope.APPLICATIONS_WRITE],
                                     actor=console_operator(), now=now)
    return record.public_id
