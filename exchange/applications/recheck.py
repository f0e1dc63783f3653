"""年度复核: the annual re-check of a matter's current beneficiaries (for 公租房 every household
renting public housing), as a resumable batch job.

A run re-checks every active tenancy of the matter once, household by household. For a
household without a decided result in the run, the exchange pulls the proofs that the
matter's re-check rules read, of the parties the matter's entries name (each member's
NO_HOUSING; the head's INCOME, civil affairs' household economic check, pulled like any data
and never committed to in a re-check). They are ordinary, logged exchange requests of the
handling department under the matter, on the tenancy's counter consents, made in parallel;
their request ids are `recheck:<run>:<tenancy>:<proof>:<party>`, so a household checked again
replays the stored answers instead of pulling twice. Only the re-check rules are then decided,
as `decision.decide` decides a matter (a false rule gives its outcome_if_false, one that cannot
be evaluated needs_review), and the result is stored in a transaction of its own with whether
it changed the tenancy's outcome: an interrupted run loses at most the household in flight.

A source that cannot answer leaves the household `waiting`; resuming the run retries exactly
those. The run is finished once every active tenancy has a decided result. One process works
through a run at a time (it holds a lease, as applications do).

Who is re-checked is enrolled by tenancies.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog.citizen_id import mask_id_number
from catalog.expression_names import expression_reads
from catalog.model import Catalog, Matter, MatterProof, Mode
from exchange.applications.context import PULL_WORKERS, HandlingContext, acting_client
from exchange.applications.decision import Decision, decide
from exchange.applications.evaluation import REFUSED_ZH, Binding, Known, Unanswered
from exchange.applications.leases import claim_lease, new_holder, release_in, renew_in
from exchange.applications.parties import Parties, Party, parties_for_scope
from exchange.applications.recheck_records import (
    WAITING, RecheckResult, RecheckRun, RunStatus, Tenancy, TenancyStatus,
)
from exchange.applications.records import ItemState
from exchange.applications.resolution import CLIENT_REVOKED_ZH, Pulled, department_source, department_zh, pull_proof
from exchange.clients import ClientRevoked
from exchange.counters import next_value
from exchange.record_ids import is_record_id
from exchange.errors import ExchangeError
from exchange.pull_service import Envelope
from exchange.record_ids import new_record_id

BATCH_CASEWORKER = "recheck-batch"
"""Whom the access log records as asking: the handling department's batch job, not a person."""
CHANGED = "changed"
OUTCOMES = (*(decision.value for decision in Decision), WAITING)


class NoRecheck(ExchangeError):
    """The live catalog has no such matter, or the matter has no re-check."""


class RunBusy(ExchangeError):
    """Another process is working through the run (its lease has not run out)."""


@dataclass(frozen=True)
class RunSummary:
    """A run as its status shows it."""

    id: str
    matter: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    total: int
    counts: dict[str, int]

    @property
    def decided(self) -> int:
        return sum(self.counts.get(decision.value, 0) for decision in Decision)

    @classmethod
    def of(cls, run: RecheckRun) -> RunSummary:
        return cls(run.id, run.matter, RunStatus(run.status), run.started_at, run.finished_at, run.total, dict(run.counts))


@dataclass(frozen=True)
class CheckedHousehold:
    """One household's result, as `run_recheck` reports it after storing it."""

    tenancy_id: str
    outcome: str
    changed: bool


@dataclass(frozen=True)
class RunProgress:
    """What one call of `run_recheck` did: households checked, whether it stopped before the
    end (asked to, or at its limit), and the run afterwards."""

    checked: int
    stopped: bool
    summary: RunSummary


@dataclass(frozen=True)
class ReportedHousehold:
    """A household a person must see: decided needs_review or not eligible by the run, or whose
    outcome it changed; `household` is the head, masked."""

    household: str
    members: int
    previous: str
    outcome: str
    changed: bool
    unmet: tuple[str, ...]
    """The Chinese names of the rules that did not hold."""
    undecided: tuple[tuple[str, str], ...]
    """(name, why) of each rule that could not be decided, as the decision says why (the data missing)."""
    notes: tuple[str, ...]
    """The decision's notes (a pull the exchange refused, and why)."""


@dataclass(frozen=True)
class RunReport:
    summary: RunSummary
    households: tuple[ReportedHousehold, ...]
    waiting_sources: tuple[str, ...]
    """Why households still wait: the source departments that could not answer."""


@dataclass(frozen=True)
class _Checked:
    outcome: str
    document: dict[str, Any] | None = None
    detail: str | None = None


def recheck_matter(catalog: Catalog, matter_code: str) -> Matter:
    """The matter as its re-check decides it: only the re-check rules, no priorities or services."""
    matter = catalog.matters.get(matter_code)
    if matter is None or matter.recheck is None:
        raise NoRecheck(f"the live catalog has no re-check of matter {matter_code!r}")
    rules = tuple(rule for rule in matter.rules if rule.code in matter.recheck.rules)
    return replace(matter, rules=rules, priorities=(), services=())


def recheck_entries(matter: Matter) -> list[MatterProof]:
    """The proofs of `matter` (a `recheck_matter`) its rules read."""
    read = {name for rule in matter.rules for name, _field in expression_reads(rule.expression)}
    return [entry for entry in matter.proofs if entry.proof.lower() in read]


def recheck_pulls(matter: Matter, parties: Parties) -> list[tuple[str, Party]]:
    """(proof, party) for each proof the rules of `matter` (a `recheck_matter`) read, of every
    party its entry names."""
    return [(entry.proof, party) for entry in recheck_entries(matter) for party in parties_for_scope(parties, entry.scope)]


# --- runs -------------------------------------------------------------------------------


def start_run(ctx: HandlingContext, matter_code: str) -> str:
    """A new run over the matter's active tenancies; its id."""
    return open_run(ctx, matter_code, resume=False)[0]


def open_run(ctx: HandlingContext, matter_code: str, *, resume: bool) -> tuple[str, bool]:
    """The run to work on, and whether it was started now: with `resume`, the matter's newest run
    when it is not finished; otherwise, or with none, a new run over the matter's active tenancies.
    Decided in one step under the lock of the matter's counter of opened runs (`next_value`): two
    commands opening a run at once agree on one, the second resuming the run the first started."""
    recheck_matter(ctx.catalog, matter_code)
    with ctx.uow.step("open-recheck") as session:
        next_value(session, f"recheck-opened:{matter_code}")
        if resume:
            newest = session.scalars(select(RecheckRun).where(RecheckRun.matter == matter_code)
                                     .order_by(RecheckRun.started_at.desc(), RecheckRun.id).limit(1)).first()
            if newest is not None and newest.status == RunStatus.RUNNING:
                return newest.id, False
        run_id = new_record_id()
        session.add(RecheckRun(id=run_id, matter=matter_code, started_at=ctx.now(), status=RunStatus.RUNNING.value,
                               total=_active_count(session, matter_code), counts=dict.fromkeys((*OUTCOMES, CHANGED), 0)))
    return run_id, True


def households_left(ctx: HandlingContext, run_id: str) -> int:
    """The active tenancies without a decided result in the run."""
    with ctx.uow.read() as session:
        run = session.get(RecheckRun, run_id)
        assert run is not None
        return len(_pending(session, run))


def run_recheck(ctx: HandlingContext, run_id: str, *, progress: Callable[[CheckedHousehold], None] | None = None,
                stop: threading.Event | None = None, limit: int | None = None) -> RunProgress:
    """Re-check every household left in the run (see the module docstring), or until `stop` is
    set or `limit` households are checked; `progress` is called after each. RunBusy if another
    process holds the run."""
    holder = new_holder()
    if not claim_lease(ctx, RecheckRun, run_id, holder):
        raise RunBusy(f"another process is working through re-check run {run_id}")
    checked, stopped = 0, False
    try:
        with ctx.uow.step("count-recheck") as session:
            run = session.get(RecheckRun, run_id)
            assert run is not None
            run.total = _active_count(session, run.matter)
            pending = _pending(session, run)
            matter = recheck_matter(ctx.catalog, run.matter)
        for tenancy_id in pending:
            if (stop is not None and stop.is_set()) or (limit is not None and checked >= limit):
                stopped = True
                break
            household = _store(ctx, run_id, holder, tenancy_id, _check(ctx, run_id, matter, tenancy_id))
            checked += 1
            if progress is not None:
                progress(household)
    finally:
        summary = _conclude(ctx, run_id, holder)
    return RunProgress(checked, stopped, summary)


def list_runs(ctx: HandlingContext, limit: int = 20) -> list[RunSummary]:
    """The newest runs, newest first."""
    with ctx.uow.read() as session:
        runs = session.scalars(select(RecheckRun).order_by(RecheckRun.started_at.desc(), RecheckRun.id).limit(limit))
        return [RunSummary.of(run) for run in runs]


def find_run(ctx: HandlingContext, run_id: str | None) -> RunSummary | None:
    """The run `run_id` (the newest when None), or None when there is no such run."""
    if run_id is None:
        return next(iter(list_runs(ctx, limit=1)), None)
    with ctx.uow.read() as session:
        run = session.get(RecheckRun, run_id) if is_record_id(run_id) else None
        return RunSummary.of(run) if run is not None else None


def run_report(ctx: HandlingContext, run_id: str) -> RunReport:
    """The run's totals; every household it decided needs_review or not eligible, or whose outcome
    it changed, with the rules that did not hold, those that could not be decided and why, and
    the decision's notes (the same households year after year while nothing changes: each run's
    report names all a person must see); and why households still wait."""
    with ctx.uow.read() as session:
        run = session.get(RecheckRun, run_id)
        assert run is not None
        rows = session.execute(select(RecheckResult, Tenancy).join(Tenancy, Tenancy.id == RecheckResult.tenancy_id)
                               .where(RecheckResult.run_id == run_id)
                               .where(or_(RecheckResult.changed.is_(True), RecheckResult.outcome != Decision.ELIGIBLE))
                               .order_by(RecheckResult.checked_at, RecheckResult.id)).all()
        summary = RunSummary.of(run)
    households = []
    for result, tenancy in rows:
        if result.outcome == WAITING:
            continue
        parties = Parties.from_document(ctx.open(tenancy.parties_sealed, tenancy.id))
        assert result.decision_sealed is not None, "a household was decided"
        document = ctx.open(result.decision_sealed, decision_bound(run_id, tenancy.id))
        rules = document["rules"]
        households.append(ReportedHousehold(
            _masked(parties.applicant), len(parties.household), result.previous_outcome, result.outcome,
            result.changed, unmet=tuple(rule["name_zh"] for rule in rules if rule["result"] is False),
            undecided=tuple((rule["name_zh"], _names_masked(rule["error_zh"] or rule["error"] or "", parties))
                            for rule in rules if rule["result"] is None),
            notes=tuple(_names_masked(note, parties) for note in document["notes"])))
    waiting = sorted({result.detail or "" for result, _tenancy in rows if result.outcome == WAITING})
    return RunReport(summary, tuple(households), tuple(waiting))


def _active_count(session: Session, matter_code: str) -> int:
    return session.scalar(select(func.count()).select_from(Tenancy).where(
        Tenancy.matter == matter_code, Tenancy.status == TenancyStatus.ACTIVE.value)) or 0


def _pending(session: Session, run: RecheckRun) -> list[str]:
    decided = select(RecheckResult.tenancy_id).where(RecheckResult.run_id == run.id, RecheckResult.outcome != WAITING)
    return list(session.scalars(select(Tenancy.id).where(
        Tenancy.matter == run.matter, Tenancy.status == TenancyStatus.ACTIVE.value, Tenancy.id.not_in(decided))
        .order_by(Tenancy.started_at, Tenancy.id)))


def _masked(party: Party) -> str:
    """The party as a report shows it: the first character of the name, the ID number masked."""
    return f"{party.name[:1]}*（{mask_id_number(party.id_number or '')}）"


def _names_masked(text: str, parties: Parties) -> str:
    """`text` (a decision's reason, which names people as a caseworker reads them) with each
    party's name as a report shows it: its first character (ID numbers come masked already)."""
    for party in sorted(parties.household, key=lambda party: len(party.name), reverse=True):
        text = text.replace(party.name, f"{party.name[:1]}*")
    return text


def decision_bound(run_id: str, tenancy_id: str) -> str:
    """What the decision of one household in one run is bound to."""
    return f"recheck\n{run_id}\n{tenancy_id}"


# --- one household ----------------------------------------------------------------------


def _check(ctx: HandlingContext, run_id: str, matter: Matter, tenancy_id: str) -> _Checked:
    """Pull the household's proofs in parallel and decide the re-check rules, or WAITING."""
    with ctx.uow.read() as session:
        tenancy = session.get(Tenancy, tenancy_id)
        assert tenancy is not None
        session.expunge(tenancy)
    parties = Parties.from_document(ctx.open(tenancy.parties_sealed, tenancy.id))
    wanted = recheck_pulls(matter, parties)
    assert matter.recheck is not None
    envelopes = [Envelope(
        request_id=f"recheck:{run_id}:{tenancy.id}:{proof}:{party.ref}", caseworker_id=BATCH_CASEWORKER,
        case_number=tenancy.case_number, matter=matter.code, proof=proof,
        purpose=f"{matter.recheck.name_zh}（档案号 {tenancy.case_number}）",
        subject_name=party.name, subject_id_number=party.id_number, subject_uscc=party.uscc, consent_id=party.consent_id,
    ) for proof, party in wanted]
    try:
        client = acting_client(ctx, tenancy.client_id, tenancy.handling_department)
    except ClientRevoked:
        pulled: list[Pulled] = [Pulled(ItemState.DENIED, detail=CLIENT_REVOKED_ZH)] * len(envelopes)
    else:
        with ThreadPoolExecutor(max_workers=max(1, min(PULL_WORKERS, len(envelopes))),
                                thread_name_prefix="recheck") as pool:
            pulled = list(pool.map(partial(pull_proof, ctx, client), envelopes))
    waiting = [(proof, result) for (proof, _party), result in zip(wanted, pulled) if result.state is ItemState.WAITING]
    if waiting:  # the departments down by name; any other wait (the exchange itself, a pull in flight) as it is
        down = sorted({ctx.catalog.proofs[proof].department for proof, result in waiting if result.source_down})
        reasons = [f"{'、'.join(department_zh(ctx, code) for code in down)}暂时无法应答"] if down else []
        reasons += sorted({result.detail or "" for _proof, result in waiting if not result.source_down})
        return _Checked(WAITING, detail="；".join(reasons))
    known: list[Known] = []
    refused: list[Unanswered] = []
    notes: list[str] = []
    no_record: list[tuple[str, str]] = []
    for (proof_code, party), result in zip(wanted, pulled):
        proof = ctx.catalog.proofs[proof_code]
        if result.state is ItemState.RESOLVED and result.values is not None:
            mode = matter.mode_for(proof)
            source = department_source(ctx, "data", (mode if mode.pulled else Mode.DATA_SHARING).value,
                                       proof.department, result.as_of, result.receipt_id, result.license)
            known.append(Known(proof_code, party.ref, party.label, result.values, source))
        elif result.state is ItemState.DENIED:
            notes.append(f"{proof.name_zh}（{party.label}）未能获取：{result.detail}")
            refused.append(Unanswered(proof_code, party.ref, party.label, REFUSED_ZH))
        elif result.state is ItemState.NOT_FOUND:
            no_record.append((proof_code, party.label))
    binding = Binding(ctx.catalog, matter, {party.ref: party.label for party in parties.household}, known, {},
                      ctx.now(), refused, identities={party.ref: party.id_number for party in parties.household})
    document = decide(matter, binding, notes, no_record)
    return _Checked(document["outcome"], document=document)


def _store(ctx: HandlingContext, run_id: str, holder: str, tenancy_id: str, checked: _Checked) -> CheckedHousehold:
    """Record the household's result, the tenancy's outcome and the run's counts in one step, renewing
    the run's lease first (RunBusy if it was lost: another process took the run over)."""
    now = ctx.now()
    with ctx.uow.step("store-recheck-result") as session:
        if not renew_in(session, RecheckRun, run_id, holder, now):
            raise RunBusy(f"re-check run {run_id} was taken over by another process")
        run = session.get(RecheckRun, run_id)
        tenancy = session.get(Tenancy, tenancy_id)
        assert run is not None and tenancy is not None
        row = session.scalars(select(RecheckResult).where(RecheckResult.run_id == run_id,
                                                          RecheckResult.tenancy_id == tenancy_id)).first()
        counts = dict(run.counts)
        if row is None:
            row = RecheckResult(run_id=run_id, tenancy_id=tenancy_id)
            session.add(row)
        else:
            counts[row.outcome] -= 1
        decided = checked.outcome != WAITING
        row.outcome, row.previous_outcome = checked.outcome, tenancy.last_outcome
        row.changed = decided and checked.outcome != tenancy.last_outcome
        row.decision_sealed = ctx.seal(checked.document, decision_bound(run_id, tenancy_id)) if checked.document else None
        row.detail, row.checked_at = checked.detail, now
        counts[checked.outcome] += 1
        counts[CHANGED] += int(row.changed)
        run.counts = counts
        if decided:
            tenancy.last_outcome = checked.outcome
        return CheckedHousehold(tenancy_id, row.outcome, row.changed)


# --- leases -----------------------------------------------------------------------------


def _conclude(ctx: HandlingContext, run_id: str, holder: str) -> RunSummary:
    """Release the run (if still `holder`'s); finish it if every active tenancy has a decided result."""
    with ctx.uow.step("conclude-recheck") as session:
        held = release_in(session, RecheckRun, run_id, holder)
        run = session.get(RecheckRun, run_id)
        assert run is not None
        if held and run.status == RunStatus.RUNNING and not _pending(session, run):
            run.status, run.finished_at = RunStatus.FINISHED.value, ctx.now()
        return RunSummary.of(run)
