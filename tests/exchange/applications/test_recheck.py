"""公租房年度复核 over the demo tenants (enrolled by `mianzheng init`): every household gets a
result decided on freshly pulled data, with provenance, and a property registered since shows
up as the one changed household of the next run; enrolling the demo tenants again enrols
nobody twice."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.application_services import build_handling_context
from api.runtime import Runtime
from api.settings import Settings
from catalog.citizen_id import mask_id_number
from exchange.access_log import AccessRecord
from exchange.applications.context import HandlingContext
from demo.applications import PUBLIC_RENTAL_HOUSING
from exchange.applications.parties import Parties
from exchange.applications import recheck
from exchange.applications.recheck import CheckedHousehold, open_run, run_recheck, run_report, start_run
from demo.tenancies import DEMO_CLIENT_NAME, enrol_demo_tenancies
from exchange.applications.recheck_records import RecheckResult, RecheckRun, RunStatus, Tenancy, TenancyStatus
from exchange.clients import ClientRecord
from demo.data import DemoHousehold, demo_households


@pytest.fixture
def ctx(settings: Settings) -> Iterator[HandlingContext]:
    current = Runtime.start(settings)
    yield build_handling_context(current, *current.published_catalog())
    current.engine.dispose()


def tenants(ctx: HandlingContext, settings: Settings) -> list[DemoHousehold]:
    return demo_households(settings.sources_dir, ctx.catalog, "tenant")


def shown(name: str, id_number: str) -> str:
    """How the report shows a head of household."""
    return f"{name[0]}*（{mask_id_number(id_number)}）"


def who(parties: Parties) -> str:
    return shown(parties.applicant.name, parties.applicant.id_number or "")


def results(ctx: HandlingContext, run_id: str) -> dict[str, RecheckResult]:
    with ctx.pull.sessions() as session:
        return {row.tenancy_id: row for row in session.scalars(select(RecheckResult).where(RecheckResult.run_id == run_id))}


def households_by_tenancy(ctx: HandlingContext) -> dict[str, Parties]:
    with ctx.pull.sessions() as session:
        rows = session.scalars(select(Tenancy)).all()
    return {row.id: Parties.from_document(ctx.open(row.parties_sealed, row.id)) for row in rows}


def test_a_recheck_decides_every_tenant_on_pulled_data_and_the_next_one_reports_what_changed(
    ctx: HandlingContext, settings: Settings
) -> None:
    households = tenants(ctx, settings)
    first = start_run(ctx, PUBLIC_RENTAL_HOUSING)
    seen: list[CheckedHousehold] = []
    progress = run_recheck(ctx, first, progress=seen.append)

    assert progress.summary.status is RunStatus.FINISHED and not progress.stopped
    assert len(seen) == progress.checked == progress.summary.total == len(households)
    found = results(ctx, first)
    assert set(found) == {household.tenancy_id for household in seen}
    line = Decimal(str(ctx.catalog.city["public_housing_income_line_monthly"].value))
    expected = {shown(h.head.name, h.head.id_number): "eligible" if h.monthly_income_per_person < line else "not_eligible"
                for h in households}
    parties = households_by_tenancy(ctx)
    assert {who(parties[t]): row.outcome for t, row in found.items()} == expected
    report = run_report(ctx, first)
    not_eligible = {household for household, outcome in expected.items() if outcome == "not_eligible"}
    assert {reported.household for reported in report.households} == not_eligible
    assert all(reported.changed for reported in report.households)
    assert report.summary.counts["changed"] == len(report.households) and report.waiting_sources == ()

    recheck = ctx.catalog.matters[PUBLIC_RENTAL_HOUSING].recheck
    assert recheck is not None
    tenancy_id = next(t for t, row in found.items() if row.outcome == "eligible" and len(parties[t].household) > 1)
    decision = ctx.open(found[tenancy_id].decision_sealed or b"", f"recheck\n{first}\n{tenancy_id}")
    assert [rule["code"] for rule in decision["rules"]] == list(recheck.rules)
    income = next(rule for rule in decision["rules"] if rule["code"] == "income_below_line")
    [pulled] = [read for read in income["reads"] if read["proof"] == "INCOME"]
    assert pulled["source"]["kind"] == "data" and pulled["source"]["department"] == "MZ"
    assert pulled["source"]["receipt_id"]
    with ctx.pull.sessions() as session:
        entries = session.scalars(select(AccessRecord).where(AccessRecord.request_id.like(f"recheck:{first}:%"))).all()
    # each pulled once: logged as allowed, and once more with its outcome when the source had no record
    assert entries and len({(entry.request_id, entry.reason) for entry in entries}) == len(entries)
    assert {(entry.outcome, entry.consumer_department, entry.matter) for entry in entries} == \
        {("allowed", "ZJ", PUBLIC_RENTAL_HOUSING)}
    assert all(entry.consent_id for entry in entries)

    household = parties[tenancy_id]
    member = household.household[-1]
    with sqlite3.connect(settings.sources_dir / "BDC.db") as registry:
        registry.execute(
            "UPDATE records SET record = json_set(json_set(record, '$.has_registered_property', json('true')),"
            " '$.property_count', 1) WHERE proof_code = 'NO_HOUSING' AND subject_id = ?", (member.id_number,))
    second = start_run(ctx, PUBLIC_RENTAL_HOUSING)
    assert run_recheck(ctx, second).summary.status is RunStatus.FINISHED
    row = results(ctx, second)[tenancy_id]
    assert (row.previous_outcome, row.outcome, row.changed) == ("eligible", "not_eligible", True)
    reported = run_report(ctx, second).households
    [changed] = [entry for entry in reported if entry.changed]
    assert changed.household == who(household)
    assert changed.unmet == ("家庭全体成员均无登记不动产",) and changed.undecided == ()
    assert (changed.previous, changed.outcome) == ("eligible", "not_eligible")
    # those still not eligible are named again, a year on: the report is what a caseworker works through
    assert {entry.household for entry in reported if not entry.changed} == not_eligible
    assert all(entry.outcome == "not_eligible" and entry.unmet for entry in reported)
    decision = ctx.open(row.decision_sealed or b"", f"recheck\n{second}\n{tenancy_id}")
    no_property = next(rule for rule in decision["rules"] if rule["code"] == "no_property")
    [owner] = [read for read in no_property["reads"] if read["value"] is True]
    assert owner["party"] == member.ref and owner["source"]["department"] == "BDC"

    other = next(t for t, row in found.items() if row.outcome == "eligible" and t != tenancy_id)
    with sqlite3.connect(settings.sources_dir / "BDC.db") as registry:  # the registry lost a member's record
        registry.execute("DELETE FROM records WHERE proof_code = 'NO_HOUSING' AND subject_id = ?",
                         (parties[other].household[0].id_number,))
    third = start_run(ctx, PUBLIC_RENTAL_HOUSING)
    run_recheck(ctx, third)
    [missing] = [entry for entry in run_report(ctx, third).households if entry.household == who(parties[other])]
    assert (missing.outcome, missing.unmet) == ("needs_review", ())  # not "someone owns property"
    [(rule, why)] = missing.undecided
    assert rule == "家庭全体成员均无登记不动产" and "缺少" in why and "无房证明" in why, why
    member = parties[other].household[0]  # named as the report names people: first character only
    assert member.name not in why and f"{member.name[:1]}*" in why, why


def test_enrolling_the_demo_tenants_again_enrols_nobody_twice(ctx: HandlingContext, settings: Settings) -> None:
    again = enrol_demo_tenancies(ctx, settings.sources_dir)
    assert again.enrolled == 0 and again.tenants == len(tenants(ctx, settings))
    with ctx.pull.sessions() as session:
        active = session.scalar(select(func.count()).select_from(Tenancy)
                                .where(Tenancy.status == TenancyStatus.ACTIVE.value))
        clients = session.scalars(select(ClientRecord).where(ClientRecord.name == DEMO_CLIENT_NAME)).all()
    assert active == again.tenants
    assert [(client.public_id, client.department_code) for client in clients] == [(again.client_id, "ZJ")]
    assert set(clients[0].scope_list) == {"exchange:request", "applications:write"}


def test_two_commands_opening_a_run_at_once_open_one(ctx: HandlingContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `mianzheng recheck run` (a timer and an operator, or two machines) start at once with
    no run unfinished. They must work on one run: two would pull every household twice, and
    each would report as unchanged the households the other had already stored."""
    started, go_on = threading.Event(), threading.Event()
    numbering = recheck.new_record_id

    def first_one_pauses() -> str:  # the first command is starting its run, not yet committed
        if not started.is_set():
            started.set()
            assert go_on.wait(30)
        return numbering()

    monkeypatch.setattr(recheck, "new_record_id", first_one_pauses)
    opened: list[tuple[str, bool]] = []

    def command() -> None:
        opened.append(open_run(ctx, PUBLIC_RENTAL_HOUSING, resume=True))

    first = threading.Thread(target=command)
    first.start()
    assert started.wait(30)
    second = threading.Thread(target=command)
    second.start()
    second.join(1)  # as long as it takes, or until it waits for the first
    go_on.set()
    first.join(30)
    second.join(30)
    assert len(opened) == 2 and len({run_id for run_id, _ in opened}) == 1, opened
    assert sorted(new for _, new in opened) == [False, True]
    with ctx.pull.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RecheckRun)) == 1


def test_a_recheck_waiting_on_the_exchange_itself_does_not_blame_the_departments(
    ctx: HandlingContext, settings: Settings
) -> None:
    """The exchange's own seal is revoked and not yet replaced: it cannot sign an answer, so every
    household waits. The report says the exchange cannot answer, not that the registry, public
    security and civil affairs are down."""
    from api.seal_config import seal_settings
    from seals.ca import RevocationReason
    from seals.registry import revoke_seal

    with ctx.pull.sessions() as session:
        revoke_seal(session, seal_settings(settings), settings.exchange_department, RevocationReason.KEY_COMPROMISE)
        session.commit()
    run = start_run(ctx, PUBLIC_RENTAL_HOUSING)
    run_recheck(ctx, run)
    report = run_report(ctx, run)
    assert report.summary.counts["waiting"] == len(tenants(ctx, settings)), report.summary
    assert report.waiting_sources == ("交换平台暂时无法应答，将自动重试",), report.waiting_sources


def test_a_member_who_died_or_moved_out_since_is_sent_to_a_caseworker(ctx: HandlingContext, settings: Settings) -> None:
    """A tenant household's member died (户口注销) or moved away (迁出) during the year: the next
    re-check does not confirm the family as it was enrolled, but names the household for review,
    saying which rule, and a household whose members' hukou is unchanged stays eligible."""
    registry_file = settings.sources_dir / "GA.db"  # linked to the suite's template: changed in a copy of its own
    shutil.copyfile(registry_file, registry_file.with_suffix(".copy"))
    os.replace(registry_file.with_suffix(".copy"), registry_file)
    first = start_run(ctx, PUBLIC_RENTAL_HOUSING)
    run_recheck(ctx, first)
    found, parties = results(ctx, first), households_by_tenancy(ctx)
    with sqlite3.connect(registry_file) as registry:
        registered = {row[0] for row in registry.execute(
            "SELECT subject_id FROM records WHERE proof_code = 'HOUSEHOLD_REGISTRATION'")}
    eligible = sorted(t for t, row in found.items() if row.outcome == "eligible" and len(parties[t].household) > 1
                      and parties[t].household[-1].id_number in registered)  # not a family registered elsewhere
    died, moved, unchanged = eligible[:3]
    with sqlite3.connect(registry_file) as registry:
        for tenancy, status in ((died, "cancelled"), (moved, "moved_out")):
            changed = registry.execute("UPDATE records SET record = json_set(record, '$.hukou_status', ?) "
                                       "WHERE proof_code = 'HOUSEHOLD_REGISTRATION' AND subject_id = ?",
                                       (status, parties[tenancy].household[-1].id_number)).rowcount
            assert changed == 1
    second = start_run(ctx, PUBLIC_RENTAL_HOUSING)
    run_recheck(ctx, second)
    rows = results(ctx, second)
    assert {t: rows[t].outcome for t in (died, moved, unchanged)} == \
        {died: "needs_review", moved: "needs_review", unchanged: "eligible"}
    reported = {entry.household: entry for entry in run_report(ctx, second).households}
    for tenancy in (died, moved):
        entry = reported[who(parties[tenancy])]
        assert entry.changed and entry.unmet == ("家庭成员户口均未注销或迁出",), entry


def test_a_publication_making_the_recheck_read_more_says_how_many_tenants_consents_it_leaves_short(
        ctx: HandlingContext, settings: Settings, tmp_path: Path) -> None:
    """The tenants consented at the counter to what the re-check read when they were enrolled.
    A publication that has the re-check read another proof about every member (as upgrading to
    a catalog with a new rule does) leaves each of those consents short: every household would
    go to a caseworker as consent-required. The publication says so, naming the proof, rather
    than the caseworkers finding out at the next run."""
    from catalog.loading import bundled_catalog_path, load_catalog
    from tests.support.cli import cli_environment, run_cli

    document = load_catalog(bundled_catalog_path()).to_document()
    housing = next(m for m in document["matters"] if m["code"] == PUBLIC_RENTAL_HOUSING)
    env = cli_environment(settings.database_url, settings.var_dir)

    def published_notices() -> list[str]:
        (tmp_path / "catalog.json").write_text(json.dumps(document, ensure_ascii=False), "utf-8")
        published = run_cli(env, "catalog", "publish", str(tmp_path / "catalog.json"))
        assert published.returncode == 0, published.stderr
        return [line for line in published.stdout.splitlines() if "年度复核" in line]

    housing["recheck"]["rules"].remove("members_registered")
    assert published_notices() == []  # reading less leaves nobody short
    housing["recheck"]["rules"] += ["members_registered", "not_renting_public_housing"]
    [notice] = published_notices()
    households = tenants(ctx, settings)
    members = sum(len(household.members) for household in households)
    assert "公租房年度复核" in notice and "NOT_RENTING_PUBLIC_HOUSING" in notice and "consent-required" in notice
    assert f"{members} 份" in notice, (members, notice)
    housing["recheck"]["rules"] = ["no_property", "income_below_line", "members_registered"]  # as enrolled
    assert published_notices() == []
    housing["recheck"]["rules"].append("spouse_in_household")  # reads the applicant's 婚姻状况
    [notice] = published_notices()
    assert "MARITAL_STATUS" in notice and f"{len(households)} 份" in notice, (len(households), notice)
    assert "家庭成员的" not in notice  # read of the applicant: not called the members' proof
