"""`mianzheng recheck` as an operator runs it over the demo tenants: stopped by --limit or by
Ctrl+C after the household in flight, resumed without pulling a finished household again,
reported with masked names; a source that is down leaves households waiting until it is back."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from api.database import standalone_session
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.access_log import AccessRecord
from exchange.applications.recheck_records import WAITING, RecheckResult
from demo.data import DemoHousehold, demo_households
from tests.support.cli import MIANZHENG, cli_environment, run_cli
from tests.support.postgres import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return cli_environment(database_url, tmp_path / "var")


def tenants(settings: Settings) -> list[DemoHousehold]:
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    return demo_households(settings.sources_dir, catalog, "tenant")


def outcomes(database_url: str) -> dict[str, str]:
    """Each re-checked household's outcome, by its request id prefix `recheck:<run>:<tenancy>`."""
    with standalone_session(database_url) as session:
        rows = session.execute(select(RecheckResult.run_id, RecheckResult.tenancy_id, RecheckResult.outcome)).all()
    return {f"recheck:{run_id}:{tenancy_id}": outcome for run_id, tenancy_id, outcome in rows}


def decided(database_url: str) -> set[str]:
    return {household for household, outcome in outcomes(database_url).items() if outcome != WAITING}


def log_entries(database_url: str) -> Counter[str]:
    """Access-log entries of the re-check's requests, per household (request id prefix)."""
    with standalone_session(database_url) as session:
        ids = session.scalars(select(AccessRecord.request_id).where(AccessRecord.request_id.like("recheck:%"))).all()
    return Counter(":".join(request_id.split(":")[:3]) for request_id in ids)


def assert_masked(output: str, households: list[DemoHousehold]) -> None:
    for household in households:
        for member in household.members:
            assert member.id_number not in output and member.name not in output


def test_a_limited_run_stops_and_the_next_resumes_without_pulling_finished_households_again(
    env: dict[str, str], settings: Settings
) -> None:
    households = tenants(settings)
    stopped = run_cli(env, "recheck", "run", "--limit", "5")
    assert stopped.returncode == 0, stopped.stderr
    assert "开始新的公租房年度复核批次" in stopped.stdout
    assert "已停止" in stopped.stdout and "mianzheng recheck run" in stopped.stdout
    done = decided(settings.database_url)
    assert len(done) == 5
    before = log_entries(settings.database_url)
    status = run_cli(env, "recheck", "status")
    assert f"已复核 5/{len(households)} 户" in status.stdout and "未完成" in status.stdout
    partial = run_cli(env, "recheck", "report")  # never read as a finished, clean run
    assert f"本批次未完成：已复核 5/{len(households)} 户" in partial.stdout, partial.stdout

    resumed = run_cli(env, "recheck", "run")
    assert resumed.returncode == 0, resumed.stderr
    assert "继续未完成的公租房年度复核批次" in resumed.stdout and "已完成" in resumed.stdout
    assert f"本批次尚有 {len(households) - 5} 户待复核" in resumed.stdout
    assert len(decided(settings.database_url)) == len(households)
    after = log_entries(settings.database_url)
    assert {household: after[household] for household in done} == {household: before[household] for household in done}
    assert "需要处理的家庭（需人工审核、不符合条件，或结论变化）：" in resumed.stdout
    again = run_cli(env, "recheck", "report")  # the caseworker reads the list again later

    def households_named(output: str) -> list[str]:
        return [line for line in output.splitlines() if line.startswith("  ")]

    assert again.returncode == 0 and households_named(again.stdout) == households_named(resumed.stdout) != []
    assert_masked(stopped.stdout + resumed.stdout + again.stdout, households)
    assert f"已复核 {len(households)}/{len(households)} 户" in run_cli(env, "recheck", "status").stdout


def test_ctrl_c_stops_after_the_household_in_flight_and_the_run_resumes(env: dict[str, str], settings: Settings) -> None:
    households = tenants(settings)
    process = subprocess.Popen([MIANZHENG, "recheck", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while len(decided(settings.database_url)) < 3:
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before it could be interrupted"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "已停止" in stdout and "mianzheng recheck run" in stdout
    done = decided(settings.database_url)
    assert 3 <= len(done) < len(households)
    before = log_entries(settings.database_url)
    assert set(before) == done  # the household in flight was finished, none was left half done

    resumed = run_cli(env, "recheck", "run")
    assert resumed.returncode == 0, resumed.stderr
    assert "继续未完成" in resumed.stdout and "已完成" in resumed.stdout
    assert len(decided(settings.database_url)) == len(households)
    after = log_entries(settings.database_url)
    assert {household: after[household] for household in done} == {household: before[household] for household in done}


def test_households_wait_while_a_source_is_down_and_resuming_after_it_is_back_finishes_them(
    env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    households = tenants(settings)
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(
        f"departments:\n  MZ:\n    url: http://127.0.0.1:{free_port()}\n    token: a-long-shared-token-1234\n"
        "    timeout_seconds: 1\n    retries: 1\n", encoding="utf-8")
    down = run_cli({**env, "MIANZHENG_SOURCES_FILE": str(sources_file)}, "recheck", "run")
    assert down.returncode == 4, down.stderr  # a timer running it tells the operator: not done
    assert "待复核原因：民政局暂时无法应答" in down.stdout and "来源部门恢复后" in down.stderr
    assert set(outcomes(settings.database_url).values()) == {WAITING}
    assert len(outcomes(settings.database_url)) == len(households)
    assert "未完成" in run_cli(env, "recheck", "status").stdout

    back = run_cli(env, "recheck", "run")
    assert back.returncode == 0, back.stderr
    assert "继续未完成" in back.stdout and "已完成" in back.stdout
    assert len(decided(settings.database_url)) == len(households)
    with standalone_session(settings.database_url) as session:
        entries = session.execute(select(AccessRecord.request_id, AccessRecord.outcome, AccessRecord.reason).where(
            AccessRecord.request_id.like("recheck:%"))).all()
    attempts = Counter(rid for rid, outcome, reason in entries if outcome == "allowed" and reason is None)
    failures = Counter(rid for rid, outcome, reason in entries if outcome == "failed")
    # a source with no record answers nothing that is kept (a hukou registered elsewhere): asked again on resuming
    unknown = Counter(rid for rid, outcome, reason in entries if reason == "subject-not-found")
    answered = {rid: attempts[rid] - failures[rid] - unknown[rid] for rid in attempts}
    assert failures and set(answered.values()) <= {0, 1}  # each request answered once at most: replayed, not re-pulled
    assert sum(answered.values()) > 0
