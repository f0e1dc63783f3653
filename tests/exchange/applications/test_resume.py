"""Nothing is lost when the process resolving an application dies: the application stays
leased until its lease runs out, then the next sweep resolves it; pulls that had already
happened are replayed from the stored answers, never pulled again. While one process holds the
lease (from the filing on, for the request that files it), no other resolves the application."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sqlalchemy import func, select, update

from api.settings import Settings
from exchange.access_log import AccessRecord
from exchange.answer_store import AnsweredRequest, RequestStatus
from exchange.applications.context import LEASE, HandlingContext
from exchange.applications.leases import new_lease
from demo.applications import PUBLIC_RENTAL_HOUSING
from exchange.applications.reading import application_document
from exchange.applications.records import Application, ApplicationItem, CommitmentRecord, CommitmentStatus
from exchange import pull_service
from exchange.applications import post_check, resolution, service
from exchange.applications.post_check import verify_commitments
from exchange.applications.resolution import resolve_application
from exchange.applications.verifiability import verifiable
from exchange.applications.investigation import complete_task, department_tasks
from exchange.applications.service import (
    ApplicationRequest, PartyInput, add_commitments, resume_due, submit_application,
)
from demo.data import demo_households
from exchange.clients import AuthenticatedClient, ClientScope, register_client, revoke_client
from exchange.consent import Consent
from exchange.errors import InvalidInput
from exchange.sources.http_source import HttpSource, HttpSourceSettings
from exchange.unit_of_work import locked_row
from tests.exchange.applications.conftest import ahead, housing_request
from tests.support.postgres import free_port


def _pulls(ctx: HandlingContext, application_id: str) -> int:
    with ctx.pull.sessions() as session:
        return session.scalar(select(func.count()).select_from(AccessRecord)
                              .where(AccessRecord.request_id.like(f"app:{application_id}:%"))
                              .where(AccessRecord.reason.is_(None)))


def test_an_application_left_by_a_dead_process_is_resolved_by_the_next_sweep(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "died-1"))
    resolve_application(ctx, filed.application_id)
    pulled = _pulls(ctx, filed.application_id)
    assert pulled > 0
    with ctx.pull.sessions() as session:  # as if the process died half-way: items back to pending, lease held
        session.execute(update(ApplicationItem).where(ApplicationItem.application_id == filed.application_id)
                        .where(ApplicationItem.state == "resolved").values(state="pending", values_sealed=None))
        session.execute(update(Application).where(Application.id == filed.application_id).values(
            status="resolving", decision=None, lease_until=datetime.now(timezone.utc) + LEASE))
        session.commit()
    assert resume_due(ctx) == []  # the lease still holds
    later = ahead(ctx, LEASE + timedelta(seconds=1))
    assert resume_due(later) == [filed.application_id]
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert application is not None and application.status == "decided" and application.decision == "eligible"
    assert _pulls(ctx, filed.application_id) == pulled  # replays, not new pulls
    with ctx.pull.sessions() as session:
        def count(reason: str) -> int:
            return session.scalar(select(func.count()).select_from(AccessRecord).where(
                AccessRecord.request_id.like(f"app:{filed.application_id}:%"), AccessRecord.reason == reason))
        assert count("replayed") == pulled - count("subject-not-found")  # every answered pull replayed once


def test_a_sweep_says_after_each_application_that_it_is_alive(ctx: HandlingContext, settings: Settings,
                                                               client: AuthenticatedClient) -> None:
    """A backlog left by a source that was down is resumed one application after another, for
    longer than the jobs may go silent: the sweep tells its caller after each one (the jobs beat
    their heartbeat then), so /readyz never calls working jobs dead."""
    filed = [submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, f"backlog-{n}"))
             for n in range(3)]
    with ctx.pull.sessions() as session:  # as if their processes died before resolving them
        session.execute(update(Application).where(Application.id.in_([f.application_id for f in filed]))
                        .values(lease_until=datetime.now(timezone.utc)))
        session.commit()
    told: list[str] = []
    rounds: list[int] = []  # and before each round of each one: a round whose sources answer slowly is long
    resumed = resume_due(replace(ahead(ctx, timedelta(seconds=1)), progress=lambda: rounds.append(1)),
                         after_each=told.append)
    assert sorted(resumed) == sorted(f.application_id for f in filed) and told == resumed
    assert len(rounds) >= len(filed), rounds


def test_two_processes_never_resolve_the_same_application_at_once(ctx: HandlingContext, settings: Settings,
                                                                  client: AuthenticatedClient) -> None:
    lease = new_lease(ctx)  # as the request that files an application takes it
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "lease-1"), lease)
    assert resolve_application(ctx, filed.application_id) is False  # another process: the filing's lease holds
    assert resume_due(ctx) == []
    assert _pulls(ctx, filed.application_id) == 0
    with ctx.pull.sessions() as session:
        states = set(session.scalars(select(ApplicationItem.state)
                                     .where(ApplicationItem.application_id == filed.application_id)))
    assert "pending" in states and not states & {"resolved", "committed", "denied"}
    assert resolve_application(ctx, filed.application_id, filed.filing) is True  # its holder resolves it
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert application is not None and application.status == "decided" and application.lease_holder is None
    assert _pulls(ctx, filed.application_id) > 0


def test_a_revoked_system_pulls_nothing_more(ctx: HandlingContext, settings: Settings,
                                             client: AuthenticatedClient) -> None:
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "revoked-1"))
    with ctx.pull.sessions() as session:
        revoke_client(session, client.client_id)
        session.commit()
    resolve_application(ctx, filed.application_id)
    assert _pulls(ctx, filed.application_id) == 0
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        states = set(session.scalars(select(ApplicationItem.state).where(
            ApplicationItem.application_id == filed.application_id, ApplicationItem.mode != "commitment")))
    assert application is not None and application.decision != "eligible"
    assert "denied" in states and "resolved" not in states


def test_a_process_whose_lease_was_taken_over_never_overwrites_the_new_holders_decision(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filing process stalls after planning its first round, past its lease; another process
    takes the application over and decides it. When the first wakes up and its pulls return, what
    it decides is not written: the new holder's decision stands, as it stored it."""
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "takeover-1"),
                               new_lease(ctx))
    later = ahead(ctx, LEASE + timedelta(seconds=1))
    original = resolution.answer_requests
    taken_over: list[tuple[object, ...]] = []

    def stalled_past_the_lease(*args: Any, **kwargs: Any) -> Any:
        if not taken_over:  # once: while the first process stalls, the second resolves the application
            taken_over.append(())
            assert resolve_application(later, filed.application_id) is True
            with ctx.pull.sessions() as session:
                application = session.get(Application, filed.application_id)
                assert application is not None and application.status == "decided"
                taken_over.append((application.decision, application.decision_blob, application.updated_at))
        return original(*args, **kwargs)

    monkeypatch.setattr(resolution, "answer_requests", stalled_past_the_lease)
    resolve_application(ctx, filed.application_id, filed.filing)  # the first process wakes up and goes on
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert application is not None and application.lease_holder is None
        assert (application.decision, application.decision_blob, application.updated_at) == taken_over[1]


def test_a_process_whose_lease_ran_out_stores_nothing_in_the_application_withdrawn_meanwhile(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filing process stalls while its pulls are answered, past its lease; the department then
    withdraws the application (its lease no longer held) and is told it is withdrawn. When the
    first process's pulls return, it stores nothing in it: no item settled, no commitment sealed,
    as the department and the citizen were told; its pulls' answers are not kept either (the
    withdrawal ended the consents they were allowed on)."""
    stalled = [timedelta(0)]
    clock = ctx.pull.clock
    stale = replace(ctx, pull=replace(ctx.pull, clock=lambda: clock() + stalled[0]))  # the first process's clock
    filed = submit_application(stale, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "stale-1"),
                               new_lease(stale))
    later = ahead(ctx, LEASE + timedelta(seconds=1))
    original = pull_service._query_all
    withdrawn: list[dict[str, Any]] = []

    def stalled_past_the_lease(*args: Any, **kwargs: Any) -> Any:
        if not withdrawn:  # once: while the sources answer, its lease runs out and the department withdraws
            service.withdraw_application(later, client, filed.application_id)
            withdrawn.append(application_document(ctx, filed.application_id))
            stalled[0] = LEASE + timedelta(seconds=2)
        return original(*args, **kwargs)

    monkeypatch.setattr(pull_service, "_query_all", stalled_past_the_lease)
    resolve_application(stale, filed.application_id, filed.filing)  # the first process wakes up and goes on
    document = application_document(ctx, filed.application_id)
    assert withdrawn[0]["status"] == document["status"] == "withdrawn"
    assert document["items"] == withdrawn[0]["items"]
    assert {item["state"] for item in document["items"]} <= {"pending", "not_required"}
    with ctx.pull.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CommitmentRecord)
                              .where(CommitmentRecord.application_id == filed.application_id)) == 0
        assert session.scalar(select(func.count()).select_from(AnsweredRequest).where(  # nor answers kept for a week
            AnsweredRequest.request_id.like(f"app:{filed.application_id}:%"),
            AnsweredRequest.status == RequestStatus.COMPLETED)) == 0


def test_a_commitment_found_untrue_while_another_process_decides_the_application_is_in_its_decision(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """事后核查 flags an application while the process resolving it holds its lease: the check's own
    re-decision finds the lease taken and leaves the application to that process. So what that
    process decides reads the flag as it stands then, not as it last read the application."""
    def flagged(application_id: str) -> None:  # as 事后核查 records a commitment found untrue
        with ctx.uow.step("record-check") as session:
            application = locked_row(session, Application, application_id)
            application.flagged, application.flag_reason = True, "无房证明承诺不实：有不动产登记"
        assert resolve_application(ctx, application_id) is False  # its re-decision: the lease is taken

    application_id = _last_read_hooked(ctx, settings, client, monkeypatch, "flagged-1", flagged)
    document = application_document(ctx, application_id)
    assert document["status"] == "decided" and document["flagged"] is True
    assert document["decision"] == "needs_review"
    assert "承诺经核查不实：无房证明承诺不实：有不动产登记" in document["decision_detail"]["notes"]


def test_commitments_added_while_another_process_resolves_the_application_are_taken(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Filed without its commitments, the application waits for them. The applicant adds them while
    a sweep resolves it: adding asks for the application to be resolved, which the sweep's lease
    refuses, so the sweep takes them itself instead of leaving the application waiting for good."""
    offered = housing_request(ctx, settings, "offered")

    def added(application_id: str) -> None:  # the applicant signs the commitments at the counter
        add_commitments(ctx, client, application_id, offered.commitments, offered.signature)
        assert resolve_application(ctx, application_id) is False  # as the API asks: the lease is taken

    application_id = _last_read_hooked(ctx, settings, client, monkeypatch, "offered-1", added,
                                       commitments=[], signature=None)
    states = {(item["proof"], item["state"]) for item in application_document(ctx, application_id)["items"]}
    assert application_document(ctx, application_id)["status"] == "decided", states
    assert {("HOUSING_HARDSHIP_REPORT", "committed"), ("INCOME", "committed")} <= states  # waited for them
    assert not any(state == "awaiting_commitment" for _proof, state in states)


def test_a_commitment_added_while_its_source_is_asked_stands_in_when_the_source_turns_out_down(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    """The applicant commits to not renting public housing while the round asks the housing
    records, which are down. Adding asks for the application to be resolved, which the round's
    lease refuses: so the round must let the commitment stand in itself, rather than leave the
    application waiting for the records' next retry."""
    offered = housing_request(ctx, settings, "fallback-meanwhile")
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, offered, new_lease(ctx))
    with ctx.pull.sessions() as session:
        members = session.scalars(select(ApplicationItem.party).where(
            ApplicationItem.application_id == filed.application_id,
            ApplicationItem.proof == "NOT_RENTING_PUBLIC_HOUSING"))
        commitments = [{"proof": "NOT_RENTING_PUBLIC_HOUSING", "party": party, "values": {
            "is_renting_public_housing": False, "checked_at": datetime.now(timezone.utc).isoformat()}}
            for party in members]
    added = threading.Lock()

    class DownWhileCommitted(HttpSource):  # the housing records, asked while the applicant signs at the counter
        def query(self, proof_code: str, id_number: str, name: str | None) -> Any:
            if added.acquire(blocking=False):
                add_commitments(ctx, client, filed.application_id, commitments, offered.signature)
                assert resolve_application(ctx, filed.application_id) is False  # as the API asks: the lease is taken
            return super().query(proof_code, id_number, name)

    sources = ctx.pull.sources.sources
    running, sources["ZJ"] = sources["ZJ"], DownWhileCommitted(
        "ZJ", HttpSourceSettings(url=f"http://127.0.0.1:{free_port()}", token="t" * 16, retries=0, timeout_seconds=1),
        ctx.catalog)
    try:
        resolve_application(ctx, filed.application_id, filed.filing)
    finally:
        sources["ZJ"] = running
    document = application_document(ctx, filed.application_id)
    states = {item["state"] for item in document["items"] if item["proof"] == "NOT_RENTING_PUBLIC_HOUSING"}
    assert added.locked() and commitments and states == {"committed"}, document["items"]
    assert document["status"] == "decided", document["status"]


def test_commitments_are_refused_once_the_application_is_decided_even_if_it_was_read_before(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The applicant adds commitments just as the application is decided: what was read of it
    before says it is not decided yet, so the refusal is decided under the application's lock,
    and nothing is stored."""
    offered = housing_request(ctx, settings, "late")
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, offered, new_lease(ctx))
    before = service.visible_application(ctx, client, filed.application_id)  # read while it is resolving
    assert before.status == "resolving"
    resolve_application(ctx, filed.application_id, filed.filing)
    monkeypatch.setattr(service, "visible_application", lambda *_args: before)
    with pytest.raises(InvalidInput, match="already decided"):
        add_commitments(ctx, client, filed.application_id, offered.commitments, offered.signature)
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert application is not None and application.status == "decided"
        assert application.offers_blob == before.offers_blob  # the offers as filed, nothing added


def test_counter_consents_end_when_the_last_commitment_is_confirmed_as_the_application_is_decided(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """事后核查 confirms the application's last checkable commitment while the step that decides it
    has counted it as pending and not yet committed (the commitment that step seals itself is one no
    source can check). The counter consents must still end with the case: the check waits for the
    decision and then sees it (on SQLite every step waits for the one before, so only a database
    server can interleave them)."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite runs one step at a time: the steps cannot interleave")
    counted, go_on = threading.Event(), threading.Event()
    counting = resolution.end_consents_unless_checking

    def paused(session: Any, application_id: str, now: datetime) -> None:  # the deciding step, before its commit
        counting(session, application_id, now)
        counted.set()
        assert go_on.wait(30)

    monkeypatch.setattr(resolution, "end_consents_unless_checking", paused)
    monkeypatch.setattr(resolution, "verifiable",  # the second round's commitment: no source can check it
                        lambda catalog, proof: proof.code != "SINGLE_DECLARATION" and verifiable(catalog, proof))
    monkeypatch.setattr(post_check, "_check",  # what the source says: the commitment holds
                        lambda _ctx, _record: post_check._Verdict(CommitmentStatus.CONFIRMED, "与来源部门记录一致"))
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "confirmed-1"),
                               new_lease(ctx))
    decider = threading.Thread(target=resolve_application, args=(ctx, filed.application_id, filed.filing))
    decider.start()
    assert counted.wait(30)
    with ctx.pull.sessions() as session:
        pending = list(session.scalars(select(CommitmentRecord.id).where(
            CommitmentRecord.application_id == filed.application_id, CommitmentRecord.status == "pending")))
    assert pending
    checker = threading.Thread(target=verify_commitments, args=(ctx, pending))
    checker.start()
    checker.join(1)  # as long as it takes, or until it waits for the decision
    go_on.set()
    decider.join(30)
    checker.join(30)
    assert not decider.is_alive() and not checker.is_alive()
    now = ctx.now()
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert application is not None and application.status == "decided"
        running = session.scalar(select(func.count()).select_from(Consent).where(
            Consent.application_id == filed.application_id, Consent.expires_at > now))
    assert running == 0


def test_a_commitment_checked_by_two_processes_at_once_keeps_the_first_verdict(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two jobs processes (or the command beside the jobs) check the same due commitment. The one
    that records second must leave the first verdict as it is: not count the check twice, not
    write the reason into the flag twice, and not overwrite "false" with the on_site its own
    pull came to (its replay refused once the counter consent ended)."""
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "twice-1"),
                               new_lease(ctx))
    resolve_application(ctx, filed.application_id, filed.filing)
    with ctx.pull.sessions() as session:
        commitment_id = session.scalars(select(CommitmentRecord.id).where(
            CommitmentRecord.application_id == filed.application_id,
            CommitmentRecord.status == "pending")).first()
    assert commitment_id is not None
    checks: list[str] = []

    def the_other_process_checks_first(_ctx: HandlingContext, record: CommitmentRecord) -> post_check._Verdict:
        checks.append(record.id)
        if len(checks) == 1:  # this process has read the commitment as pending; the other one checks it now
            assert post_check.verify_commitment(ctx, record.id) is CommitmentStatus.FALSE
            return post_check._Verdict(CommitmentStatus.ON_SITE, "来源部门无法核查，请现场核验")
        return post_check._Verdict(CommitmentStatus.FALSE, "登记有不动产")

    monkeypatch.setattr(post_check, "_check", the_other_process_checks_first)
    post_check.verify_commitment(ctx, commitment_id)
    assert len(checks) == 2
    post_check.verify_commitment(ctx, commitment_id)  # a third, later: nothing to check any more
    assert len(checks) == 2
    with ctx.pull.sessions() as session:
        commitment = session.get(CommitmentRecord, commitment_id)
        application = session.get(Application, filed.application_id)
        assert commitment is not None and application is not None
        assert (commitment.status, commitment.verify_attempts) == ("false", 1)
        assert commitment.verification_detail == "登记有不动产"
        assert application.flagged and application.flag_reason is not None
        assert application.flag_reason.count("登记有不动产") == 1


def test_an_investigation_result_recorded_while_another_process_decides_the_application_is_in_its_decision(
    ctx: HandlingContext, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """低保 is decided for review while the community investigates. The community records its
    finding while another process (事后核查 of the income commitment, say) decides the
    application again: recording asks for a decision, which that process's lease refuses, so its
    decision takes the finding instead of leaving the application waiting for it for good."""
    civil_affairs, community = (_system(ctx, department) for department in ("MZ", "SQ"))
    [household] = demo_households(settings.sources_dir, ctx.catalog, "minimum_living", 1)
    size, monthly = len(household.members), household.monthly_income_per_person
    income = {"family_size": size, "annual_household_income": format(monthly * 12 * size, "f"),
              "per_capita_monthly_income": format(monthly, "f"),
              "income_period_start": "2025-11-01", "income_period_end": "2026-10-31"}

    def decided_for_review(request_id: str) -> tuple[str, str]:
        """A 低保 application decided while the community investigates, and the community's task."""
        [applicant, *members] = [PartyInput(name=m.name, id_number=m.id_number, relation=m.relation)
                                 for m in household.members]
        filed = submit_application(ctx, civil_affairs, "MINIMUM_LIVING_APPLICATION", ApplicationRequest(
            request_id=request_id, caseworker_id="ck-007", case_number=f"DB-{request_id}", applicant=applicant,
            members=members, counter_consent=True, commitments=[{"proof": "INCOME", "values": income}],
            signature={"channel": "counter"}), new_lease(ctx))
        resolve_application(ctx, filed.application_id, filed.filing)
        document = application_document(ctx, filed.application_id)
        assert document["decision"] == "needs_review" and any("待核查结果" in n for n in document["decision_detail"]["notes"])
        [task] = [t for t in department_tasks(ctx, "SQ") if t["application_id"] == filed.application_id]
        return filed.application_id, task["id"]

    def decided_again(application_id: str) -> None:  # as 事后核查 asks, say
        assert resolve_application(ctx, application_id) is True

    counted, _ = decided_for_review("dibao-count")
    application_id, task_id = decided_for_review("dibao")
    _after_the_last_read(  # the community's finding arrives then; its own request for a decision is refused
        monkeypatch, dry_run=lambda: decided_again(counted), run=lambda: decided_again(application_id),
        meanwhile=lambda: complete_task(ctx, community, task_id,
                                        {"employment_status": "unemployed", "investigation_note": "入户核实"}))
    document = application_document(ctx, application_id)
    assert {item["proof"]: item["state"] for item in document["items"]}["COMMUNITY_INCOME"] == "investigated"
    assert document["status"] == "decided"
    assert not any("待核查结果" in note for note in document["decision_detail"]["notes"]), document["decision_detail"]


def _system(ctx: HandlingContext, department: str) -> AuthenticatedClient:
    """A department system's client with the scope to file applications and record findings."""
    with ctx.pull.sessions() as session:
        record, _token = register_client(session, ctx.catalog, department, f"{department} 业务系统",
                                         [ClientScope.APPLICATIONS_WRITE])
        session.commit()
        return AuthenticatedClient(record.public_id, department, record.name, frozenset(record.scope_list))


def _last_read_hooked(ctx: HandlingContext, settings: Settings, client: AuthenticatedClient,
                      monkeypatch: pytest.MonkeyPatch, request_id: str, meanwhile: Any, **changes: Any) -> str:
    """File an application (its request changed by `changes`) and resolve it, calling
    `meanwhile(application_id)` right after the resolver's last read of it, as another process
    would change it then; the application's id. How many reads the resolution makes is counted
    on a first application filed the same way."""
    dry_run, filed = (submit_application(ctx, client, PUBLIC_RENTAL_HOUSING,
                                         replace(housing_request(ctx, settings, name), **changes), new_lease(ctx))
                      for name in (f"{request_id}-count", request_id))
    _after_the_last_read(monkeypatch,
                         dry_run=lambda: resolve_application(ctx, dry_run.application_id, dry_run.filing),
                         run=lambda: resolve_application(ctx, filed.application_id, filed.filing),
                         meanwhile=lambda: meanwhile(filed.application_id))
    return filed.application_id


def _after_the_last_read(monkeypatch: pytest.MonkeyPatch, *, dry_run: Callable[[], object],
                         run: Callable[[], object], meanwhile: Callable[[], object]) -> None:
    """Call `run` (a resolution), and `meanwhile()` right after its last read of the application,
    as another process would change it then. How many reads `run` makes is counted on `dry_run`,
    the same resolution of another application in the same state."""
    original = resolution.load
    reads: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(resolution, "load", counted)
    dry_run()
    reads_left = [len(reads)]

    def changed_after_the_last_read(*args: Any, **kwargs: Any) -> Any:
        loaded = original(*args, **kwargs)
        reads_left[0] -= 1
        if reads_left[0] == 0:
            meanwhile()
        return loaded

    monkeypatch.setattr(resolution, "load", changed_after_the_last_read)
    run()
    monkeypatch.setattr(resolution, "load", original)
    assert reads and reads_left[0] <= 0  # the change was made (a resolver that sees it reads again)


def _died_pulling_the_marriage_record(ctx: HandlingContext, settings: Settings, client: AuthenticatedClient,
                                     request_id: str, **reservation: Any) -> tuple[Any, ApplicationItem]:
    """An application filed and decided, then set back as a process that died while pulling the
    applicant's marriage record leaves it: the item pending, its request id reserved (with
    `reservation`'s columns), the application resolving under a lease. The filing and the item."""
    from exchange.answer_store import AnsweredRequest

    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, request_id))
    resolve_application(ctx, filed.application_id)
    with ctx.pull.sessions() as session:
        marriage = session.scalars(select(ApplicationItem).where(
            ApplicationItem.application_id == filed.application_id, ApplicationItem.proof == "MARITAL_STATUS",
            ApplicationItem.party == "applicant")).one()
        assert marriage.state == "resolved"
        session.execute(update(ApplicationItem).where(ApplicationItem.id == marriage.id).values(
            state="pending", values_blob=None, values_key_id=None, detail=None))
        session.execute(update(AnsweredRequest).where(
            AnsweredRequest.request_id == f"app:{filed.application_id}:{marriage.id}").values(
            status="pending", answer_blob=None, answer_key_id=None, completed_at=None, **reservation))
        session.execute(update(Application).where(Application.id == filed.application_id).values(
            status="resolving", decision=None, lease_until=ctx.now() + LEASE))
        session.commit()
    return filed, marriage


def test_a_pull_still_being_answered_by_a_dead_process_waits_without_blaming_the_source(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    """The process before died while the marriage record was being pulled: its reservation of the
    request id holds for a while. The next sweep's pull of it is refused as a request still being
    answered; that is the exchange's own business, not civil affairs being down, so the item
    waits, says so, and the applicant's commitment is not taken in its place."""
    from exchange.answer_store import STALE_AFTER

    later = ahead(ctx, LEASE + timedelta(seconds=1))
    filed, marriage = _died_pulling_the_marriage_record(ctx, settings, client, "in-flight-1", reserved_at=later.now())

    assert resume_due(later) == [filed.application_id]
    with ctx.pull.sessions() as session:
        item = session.get(ApplicationItem, marriage.id)
        assert item is not None and item.state == "waiting", (item.state, item.detail)
        assert "民政" not in (item.detail or "") and "暂时无法应答" not in (item.detail or ""), item.detail
        assert not session.scalars(select(CommitmentRecord).where(
            CommitmentRecord.application_id == filed.application_id, CommitmentRecord.fallback.is_(True))).all()

    afterwards = ahead(ctx, LEASE + STALE_AFTER + timedelta(minutes=1))  # the dead reservation is stale now
    assert resume_due(afterwards) == [filed.application_id]
    with ctx.pull.sessions() as session:
        item = session.get(ApplicationItem, marriage.id)
        application = session.get(Application, filed.application_id)
        assert item is not None and item.state == "resolved"
        assert application is not None and application.status == "decided" and application.decision == "eligible"


def test_a_pull_whose_request_id_holds_another_request_is_denied_not_retried_for_ever(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient
) -> None:
    """The process before died while the marriage record was being pulled, under a catalog that
    named the matter otherwise (the pull's purpose names it): its reservation of the item's request
    id holds a request with other content. Repeating never makes that request id free, so the
    item is denied with the reason, and the application is decided, not left waiting for ever."""
    from exchange.answer_store import STALE_AFTER

    later = ahead(ctx, LEASE + STALE_AFTER + timedelta(minutes=1))
    filed, marriage = _died_pulling_the_marriage_record(ctx, settings, client, "other-content-1",
                                                        reserved_at=ctx.now(), request_sha256="0" * 64)

    assert resume_due(later) == [filed.application_id]
    with ctx.pull.sessions() as session:
        item = session.get(ApplicationItem, marriage.id)
        application = session.get(Application, filed.application_id)
        assert item is not None and item.state == "denied", (item.state, item.detail)
        assert "请求号" in (item.detail or "") and "conflict" in (item.detail or ""), item.detail
        assert application is not None and application.status == "decided", application.status


def test_a_sweep_does_not_take_back_an_application_another_process_decided_meanwhile(
    ctx: HandlingContext, settings: Settings, client: AuthenticatedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sweeps list the same abandoned application; the first resolves and decides it before
    the second claims it. The second must leave the decision alone: not take the application
    back to resolving and decide it again."""
    filed = submit_application(ctx, client, PUBLIC_RENTAL_HOUSING, housing_request(ctx, settings, "two-sweeps-1"))
    resolve_application(ctx, filed.application_id)
    later = ahead(ctx, LEASE + timedelta(seconds=1))
    with ctx.pull.sessions() as session:  # a dead process left it resolving, its lease run out
        session.execute(update(Application).where(Application.id == filed.application_id).values(
            status="resolving", decision=None, lease_until=ctx.now()))
        session.commit()
    real = service.resolve_application
    states: list[str] = []

    def other_sweep_first(context: HandlingContext, application_id: str, *args: Any, **kwargs: Any) -> bool:
        assert real(context, application_id)  # the other sweep, which listed it too, decides it first
        with ctx.pull.sessions() as session:
            states.append(session.get(Application, application_id).status)
        return real(context, application_id, *args, **kwargs)

    monkeypatch.setattr(service, "resolve_application", other_sweep_first)
    assert resume_due(later) == []
    with ctx.pull.sessions() as session:
        application = session.get(Application, filed.application_id)
        assert states == ["decided"] and application is not None and application.status == "decided"
