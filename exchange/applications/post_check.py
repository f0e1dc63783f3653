"""事后核查: checking signed commitments against the source departments once they answer.

For each commitment still pending (and due), the exchange pulls the fact it stands in for
(`verifiability.verification_for`) as an ordinary, logged exchange request of the handling
department under the application's matter and consent, then marks it:

- confirmed: the record agrees with what was committed;
- false: it does not; the application is flagged for review (its decision is re-made with the
  flag, so an eligible one becomes needs_review) and the commitment is listed for the handling
  department;
- on_site: no source can settle it (no record, the pull is not allowed, the check cannot be
  evaluated); the department checks on site;
- still pending when the source cannot answer: retried after its Retry-After.

The scheduled jobs run the checks as background work (`Pace`): a burst of filings leaves hundreds
of checks due at once, each a pull that writes, and checked back to back they would take a core
and most of the database's write turns from the requests being served. Like PostgreSQL's
autovacuum, which sleeps between the pages it cleans, a paced pass rests between checks and stops
at its time budget; what is left is checked by the next pass, oldest first. An operator's
`mianzheng commitments verify` checks at full speed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select

from catalog.model import Proof
from exchange.applications.counter_consents import end_consents_when_done
from exchange.applications.context import HandlingContext, acting_client
from exchange.applications.evaluation import evaluate_verification
from exchange.applications.records import Application, CommitmentRecord, CommitmentStatus
from exchange.applications.resolution import department_zh, item_bound, load, resolve_application
from exchange.applications.verifiability import verification_for
from exchange.clients import ClientRevoked
from exchange.pull_service import Envelope, PullRefused, answer_request
from exchange.receipts import receipt_id
from exchange.unit_of_work import locked_row

RETRY_SECONDS = 60


@dataclass
class CheckReport:
    """How many commitments each run marked."""

    confirmed: int = 0
    false: int = 0
    on_site: int = 0
    still_pending: int = 0
    false_ids: list[str] = field(default_factory=list)
    deferred: int = 0  # due, but left for the next pass by its `Pace`

    def count(self, status: CommitmentStatus, commitment_id: str) -> None:
        if status is CommitmentStatus.CONFIRMED:
            self.confirmed += 1
        elif status is CommitmentStatus.FALSE:
            self.false += 1
            self.false_ids.append(commitment_id)
        elif status is CommitmentStatus.ON_SITE:
            self.on_site += 1
        else:
            self.still_pending += 1


@dataclass(frozen=True)
class Pace:
    """How a background pass checks: after each check it rests `rest_ratio` times the CPU time the
    check took in this process (so checks take at most 1 / (1 + rest_ratio) of a core; the time a
    connector takes to answer is not counted), and it starts no check after `budget_seconds`, nor
    once `stop` is set; a pass that is not stopped checks at least one."""

    budget_seconds: float
    rest_ratio: float
    stop: threading.Event


@dataclass(frozen=True)
class _Verdict:
    status: CommitmentStatus
    detail: str
    receipt_id: str | None = None
    retry_after: int | None = None


def due_commitments(ctx: HandlingContext, limit: int | None = None) -> list[str]:
    """Ids of the pending commitments whose check is due, oldest first."""
    now = ctx.now()
    query = (select(CommitmentRecord.id).where(CommitmentRecord.status == CommitmentStatus.PENDING.value)
             .where(or_(CommitmentRecord.next_verify_at.is_(None), CommitmentRecord.next_verify_at <= now))
             .order_by(CommitmentRecord.signed_at, CommitmentRecord.id))
    with ctx.uow.read() as session:
        return list(session.scalars(query.limit(limit) if limit else query))


def verify_commitments(ctx: HandlingContext, commitment_ids: Sequence[str] | None = None, *,
                       progress: Callable[[CommitmentStatus], None] | None = None,
                       pace: Pace | None = None) -> CheckReport:
    """Check the given commitments (default: every due one), at `pace` if given (see `Pace`);
    `progress` is called after each."""
    report = CheckReport()
    to_check = due_commitments(ctx) if commitment_ids is None else list(commitment_ids)
    started = time.monotonic()
    for done, commitment_id in enumerate(to_check):
        if pace is not None and (pace.stop.is_set() or (done and time.monotonic() - started >= pace.budget_seconds)):
            report.deferred = len(to_check) - done
            break
        began = time.process_time()
        status = verify_commitment(ctx, commitment_id)
        report.count(status, commitment_id)
        if progress:
            progress(status)
        if pace is not None:  # the CPU the check took: waiting on a source is the source's time, not our work
            pace.stop.wait((time.process_time() - began) * pace.rest_ratio)
    return report


def verify_commitment(ctx: HandlingContext, commitment_id: str) -> CommitmentStatus:
    """Check one commitment now and record the outcome (see the module docstring). A commitment
    that is no longer pending (another process checked it, even meanwhile: the verdict is
    recorded under its lock) keeps the verdict it has, which is returned."""
    with ctx.uow.read() as session:
        record = session.get(CommitmentRecord, commitment_id)
        assert record is not None
        session.expunge(record)
    if record.status != CommitmentStatus.PENDING:
        return CommitmentStatus(record.status)
    verdict = _check(ctx, record)
    now = ctx.now()
    with ctx.uow.step("record-check") as session:
        row = locked_row(session, CommitmentRecord, commitment_id)
        if row.status != CommitmentStatus.PENDING:
            return CommitmentStatus(row.status)
        row.verify_attempts += 1
        row.verification_detail = verdict.detail
        if verdict.status is CommitmentStatus.PENDING:
            row.next_verify_at = now + timedelta(seconds=verdict.retry_after or RETRY_SECONDS)
        else:
            row.status, row.verified_at, row.next_verify_at = verdict.status.value, now, None
            row.verification_receipt_id = verdict.receipt_id
        # the application's lock for every verdict: a step deciding the application now counted this
        # commitment as pending and left the consents running, so this step waits for that decision
        # and ends them (`end_consents_when_done`)
        application = locked_row(session, Application, row.application_id)
        if verdict.status is CommitmentStatus.FALSE:
            proof_name = ctx.catalog.proofs[row.proof].name_zh
            reason = f"{proof_name}承诺不实：{verdict.detail}"
            application.flagged = True
            application.flag_reason = "；".join(filter(None, [application.flag_reason, reason]))
        session.flush()
        end_consents_when_done(session, row.application_id, now)
    if verdict.status is CommitmentStatus.FALSE:
        resolve_application(ctx, record.application_id)
    return verdict.status


def _check(ctx: HandlingContext, record: CommitmentRecord) -> _Verdict:
    proof = ctx.catalog.proofs.get(record.proof)
    if proof is None:  # a publication took the proof out of the catalog: nothing says how to check it
        return _Verdict(CommitmentStatus.ON_SITE, "该证明已从目录中取消，无核查依据，由办理部门现场核查")
    verification = verification_for(ctx.catalog, proof)
    if verification is None:
        return _Verdict(CommitmentStatus.ON_SITE, "无可核查的数据来源，由办理部门现场核查")
    loaded = load(ctx, record.application_id)
    application = loaded.application
    item = next(item for item in loaded.items if item.id == record.item_id)
    party = loaded.parties.get(item.party)
    assert item.values_sealed is not None, "a committed item holds the values committed to"
    committed = ctx.open(item.values_sealed, item_bound(item))
    verifying = ctx.catalog.proofs[verification.proof]
    source_zh = department_zh(ctx, verifying.department)
    envelope = Envelope(
        request_id=f"verify:{record.id}", caseworker_id=application.caseworker_id, case_number=application.case_number,
        matter=application.matter, proof=verification.proof, purpose=f"告知承诺事后核查（承诺编号 {record.id}）",
        subject_name=party.name, subject_id_number=party.id_number, subject_uscc=party.uscc, consent_id=party.consent_id,
    )
    try:
        result = answer_request(ctx.pull, acting_client(ctx, application.client_id, application.consumer_department),
                                envelope)
    except ClientRevoked:
        return _Verdict(CommitmentStatus.ON_SITE, "办理部门的业务系统已停用，转现场核查")
    except PullRefused as refused:
        if refused.kind == "conflict" and refused.retry_after:
            return _Verdict(CommitmentStatus.PENDING, "同一核查请求仍在处理中，稍后再查", retry_after=refused.retry_after)
        if refused.kind in ("source-unavailable", "service-unavailable"):
            who = "交换平台" if refused.kind == "service-unavailable" else source_zh
            return _Verdict(CommitmentStatus.PENDING, f"{who}暂时无法应答，稍后再查", retry_after=refused.retry_after)
        if refused.kind == "subject-not-found":
            return _Verdict(CommitmentStatus.ON_SITE, "来源部门无此人记录，转现场核查")
        return _Verdict(CommitmentStatus.ON_SITE, f"无法调取核查数据（{refused.kind}），转现场核查")
    record_values = result.body["answer"]["data"]
    receipt = receipt_id(result.body["receipt"])
    if verification.expression is None:
        differing = [name for name, value in committed.items()
                     if name in record_values and not _same(value, record_values[name])]
        if differing:
            return _Verdict(CommitmentStatus.FALSE,
                            f"与{source_zh}数据不一致的项目：{'、'.join(_label(proof, n) for n in differing)}", receipt)
        return _Verdict(CommitmentStatus.CONFIRMED, f"与{source_zh}数据一致", receipt)
    evaluation = evaluate_verification(ctx.catalog, verification.expression, committed, record_values, proof, verifying,
                                      ctx.now())
    if evaluation.result is None:
        return _Verdict(CommitmentStatus.ON_SITE, f"无法依{verifying.name_zh}判断，转现场核查", receipt)
    if evaluation.result:
        return _Verdict(CommitmentStatus.CONFIRMED, f"与{source_zh}的{verifying.name_zh}相符", receipt)
    return _Verdict(CommitmentStatus.FALSE, f"与{source_zh}的{verifying.name_zh}不符", receipt)


def _same(committed: Any, recorded: Any) -> bool:
    """Equal as values: decimals compared as numbers ("3000" equals "3000.00")."""
    if isinstance(committed, str) and isinstance(recorded, str):
        try:
            return Decimal(committed) == Decimal(recorded)
        except InvalidOperation:
            pass
    return bool(committed == recorded)


def _label(proof: Proof, name: str) -> str:
    try:
        return proof.item(name).name_zh
    except KeyError:
        return name
