"""The application as its handling department reads it: parties (named, ID numbers masked),
every proof item with its state, values and source, the decision with its provenance, the
commitments with their 事后核查 and the investigation tasks. Also the lists a department works
from: its applications and the commitments found false."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from catalog.model import Mode
from exchange.applications.context import HandlingContext
from exchange.applications.decision import Decision
from exchange.applications.records import (
    Application, ApplicationItem, ApplicationStatus, CommitmentRecord, CommitmentStatus, InvestigationTask, ItemState,
)
from exchange.applications.resolution import NO_PARTY, answer_bound, item_bound, load
from exchange.errors import NotFound
from exchange.record_ids import is_record_id

STATE_ZH = {
    ItemState.PENDING: "核验中", ItemState.RESOLVED: "已获取数据", ItemState.NOT_FOUND: "来源部门无记录",
    ItemState.NOT_REQUIRED: "无需提供", ItemState.ABOLISHED: "已取消，无需提供", ItemState.COMMITTED: "告知承诺",
    ItemState.AWAITING_COMMITMENT: "待签署承诺", ItemState.WAITING: "等待来源部门", ItemState.INVESTIGATING: "部门核查中",
    ItemState.INVESTIGATED: "部门已核查", ItemState.DENIED: "未能获取",
}
STATUS_ZH = {ApplicationStatus.RESOLVING: "核验中", ApplicationStatus.WAITING: "等待中", ApplicationStatus.DECIDED: "已判定",
             ApplicationStatus.WITHDRAWN: "已撤回"}
COMMITMENT_STATUS_ZH = {CommitmentStatus.PENDING: "待核查", CommitmentStatus.CONFIRMED: "核查属实",
                        CommitmentStatus.FALSE: "核查不实", CommitmentStatus.ON_SITE: "转现场核查"}
class CommitmentNotFound(NotFound):
    """No such commitment in the caller's department's applications."""


PAPERLESS_STATES = frozenset({ItemState.RESOLVED, ItemState.NOT_FOUND, ItemState.ABOLISHED, ItemState.COMMITTED,
                              ItemState.INVESTIGATING, ItemState.INVESTIGATED})
"""An item in one of these states was settled without the applicant bringing paper."""


def application_document(ctx: HandlingContext, application_id: str) -> dict[str, Any]:
    """Everything about one application (see the module docstring)."""
    loaded = load(ctx, application_id)
    application = loaded.application
    catalog = ctx.catalog
    matter = catalog.matters.get(application.matter)  # None: a publication since dropped the matter
    with ctx.uow.read() as session:
        commitments = session.scalars(select(CommitmentRecord).where(CommitmentRecord.application_id == application.id)
                                      .order_by(CommitmentRecord.signed_at)).all()
        tasks = session.scalars(select(InvestigationTask).where(InvestigationTask.application_id == application.id)).all()
    items = []
    for item in loaded.items:
        proof = catalog.proofs.get(item.proof)
        party = loaded.parties.get(item.party) if item.party != NO_PARTY else None
        values = ctx.open(item.values_sealed, item_bound(item)) \
            if item.values_sealed else None
        department = catalog.departments.get(item.department)
        items.append({
            "proof": item.proof, "proof_name_zh": proof.name_zh if proof else item.proof, "party": item.party,
            "party_label": party.label if party else None, "mode": item.mode, "mode_zh": Mode(item.mode).label_zh,
            "department": item.department, "department_name_zh": department.name_zh if department else item.department,
            "state": item.state, "state_zh": STATE_ZH[ItemState(item.state)], "detail": item.detail,
            "values": values, "as_of": item.as_of, "receipt_id": item.receipt_id, "license": item.license,
            "commitment_id": item.commitment_id,
            "attempts": item.attempts, "next_attempt_at": item.next_attempt_at, "resolved_at": item.resolved_at,
        })
    decision = ctx.open(application.decision_sealed, f"decision\n{application.id}") if application.decision_sealed else None
    return {
        "id": application.id, "matter": application.matter,
        "matter_name_zh": matter.name_zh if matter else application.matter,
        "consumer_department": application.consumer_department, "case_number": application.case_number,
        "caseworker_id": application.caseworker_id, "request_id": application.request_id,
        "status": application.status, "status_zh": STATUS_ZH[ApplicationStatus(application.status)],
        "decision": application.decision, "priorities": list(application.priorities or []),
        "flagged": application.flagged, "flag_reason": application.flag_reason, "options": dict(application.options),
        "created_at": application.created_at, "decided_at": application.decided_at,
        "withdrawn_at": application.withdrawn_at, "concluded": concluded(application, decision),
        "parties": [{"ref": party.ref, "label": party.label, "relation": party.relation} for party in loaded.parties.all()],
        "items": items,
        "paper_saved": sum(1 for item in loaded.items if ItemState(item.state) in PAPERLESS_STATES),
        "decision_detail": decision,
        "commitments": [commitment_summary(ctx, record) for record in commitments],
        "tasks": [{"id": task.id, "department": task.department, "proof": task.proof, "status": task.status,
                   "created_at": task.created_at, "completed_at": task.completed_at} for task in tasks],
    }


def concluded(application: Application, decision: Mapping[str, Any] | None) -> bool:
    """Whether the application is concluded (办结; `decision`: its opened decision document):
    decided eligible or not eligible, or a bundle with a part decided eligible (the newborn's
    hukou registered, while the maternity benefit waits for review), which the filing department
    and the bundle's departments act on; or flagged by 事后核查 (decided on a commitment found
    false, back to review for the department to deal with). It is not withdrawn any more."""
    if application.status != ApplicationStatus.DECIDED or decision is None:
        return False
    if application.decision != Decision.NEEDS_REVIEW or application.flagged:
        return True
    return any(service["outcome"] == Decision.ELIGIBLE for service in decision["services"])


def commitment_summary(ctx: HandlingContext, record: CommitmentRecord) -> dict[str, Any]:
    proof = ctx.catalog.proofs.get(record.proof)
    return {
        "id": record.id, "application_id": record.application_id, "matter": record.matter, "proof": record.proof,
        "proof_name_zh": proof.name_zh if proof else record.proof, "fallback": record.fallback,
        "channel": record.channel, "signed_at": record.signed_at, "status": record.status,
        "status_zh": COMMITMENT_STATUS_ZH[CommitmentStatus(record.status)], "verified_at": record.verified_at,
        "verification_detail": record.verification_detail, "verification_receipt_id": record.verification_receipt_id,
        "handling_department": record.handling_department,
    }


def commitment_token(ctx: HandlingContext, record: CommitmentRecord) -> str:
    """The sealed commitment as signed (a JWS of the exchange's seal)."""
    return str(ctx.open(record.token_sealed, f"commitment\n{record.id}")["token"])


class AnswerNotKept(NotFound):
    """No proof of the application was answered under this receipt (or its answer was pulled
    before answers were kept with their items)."""


def item_answer(ctx: HandlingContext, application_id: str, receipt: str) -> dict[str, Any]:
    """The exchange's answer, with its signed receipt `receipt`, behind a proof of the application
    (`{"answer", "receipt"}` as the exchange returned them); `AnswerNotKept` otherwise."""
    with ctx.uow.read() as session:
        item = session.scalars(select(ApplicationItem).where(
            ApplicationItem.application_id == application_id, ApplicationItem.receipt_id == receipt)).first() \
            if is_record_id(receipt) else None
        if item is None or item.answer_sealed is None:
            raise AnswerNotKept(f"application {application_id} keeps no answer under receipt {receipt!r}")
        return ctx.open(item.answer_sealed, answer_bound(item))


def visible_commitment(ctx: HandlingContext, department: str, commitment_id: str) -> CommitmentRecord:
    """A commitment taken in one of the department's applications; CommitmentNotFound otherwise."""
    with ctx.uow.read() as session:
        record = session.get(CommitmentRecord, commitment_id) if is_record_id(commitment_id) else None
        if record is not None:
            session.expunge(record)
    if record is None or record.handling_department != department:
        raise CommitmentNotFound(f"no commitment {commitment_id!r} for {department}")
    return record


def department_commitments(ctx: HandlingContext, department: str, status: CommitmentStatus | None) -> list[dict[str, Any]]:
    """The commitments taken in the department's applications, newest first (optionally of one status)."""
    query = select(CommitmentRecord).where(CommitmentRecord.handling_department == department)
    if status is not None:
        query = query.where(CommitmentRecord.status == status.value)
    with ctx.uow.read() as session:
        records = session.scalars(query.order_by(CommitmentRecord.signed_at.desc()).limit(500)).all()
    return [commitment_summary(ctx, record) for record in records]


def department_applications(ctx: HandlingContext, department: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The department's applications, newest first, without personal data."""
    with ctx.uow.read() as session:
        rows = session.scalars(select(Application).where(Application.consumer_department == department)
                               .order_by(Application.created_at.desc()).limit(limit)).all()
    return [{"id": row.id, "matter": row.matter, "case_number": row.case_number, "status": row.status,
             "decision": row.decision, "flagged": row.flagged, "created_at": row.created_at,
             "decided_at": row.decided_at} for row in rows]
