"""The reference connector as a separate process (`mianzheng connector serve`) over real
HTTP, queried through the exchange's HTTP adapter: answers, refusals, a stopped connector,
a slow one that trips the breaker, and a restarted one that is used again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from catalog.model import Catalog
from exchange.certificates.model import RELATIONS_ZH
from exchange.sources.breaker import BreakerState, CircuitBreaker
from exchange.sources.contract import SourceRejected, SourceUnavailable, SubjectNotFound
from demo.data import DemoResident, sample_residents
from exchange.sources.http_source import HttpSource, HttpSourceSettings
from exchange.sources.openapi import connector_openapi
from tests.exchange.sources.stub_server import Reply, Script, stub_connector
from tests.support.cli import run_cli
from tests.support.clock import ManualClock
from tests.support.connector import Connector
from tests.support.postgres import free_port

pytestmark = pytest.mark.slow

TOKEN = "connector-test-token-0123456789"
UNKNOWN = "110101199003070011"  # valid, and nobody in the demo city
ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")


@pytest.fixture(scope="module")
def connector(demo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connector]:
    token_file = tmp_path_factory.mktemp("connector") / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    running = Connector("BDC", demo_folder / "BDC.db", token_file, free_port())
    running.start()
    yield running
    if running.process is not None:
        output = running.stop()
        # the log holds no ID number (a bare "330" also turns up in request timings such as 0.003303s)
        assert not ID_NUMBER.search(output), output


@pytest.fixture(scope="module")
def residents(demo_folder: Path) -> list[DemoResident]:
    return sample_residents(demo_folder, 2)


def adapter(url: str, catalog: Catalog, token: str = TOKEN, **settings: float) -> HttpSource:
    values = {"timeout_seconds": 1.0, "connect_timeout_seconds": 0.3, "retries": 1, "backoff_seconds": 0.05,
              "breaker_failures": 2, "breaker_cooldown_seconds": 1.0, **settings}
    return HttpSource("BDC", HttpSourceSettings(url=url, token=token, **values), catalog)  # type: ignore[arg-type]


def test_the_connector_answers_with_the_record(connector: Connector, catalog: Catalog, residents: list[DemoResident]) -> None:
    without, owner = residents
    source = adapter(connector.url, catalog)
    try:
        answer = source.query("NO_HOUSING", without.id_number, without.name)
        assert answer.record["has_registered_property"] is False and answer.record["full_name"] == without.name
        assert list(answer.record) == [item.name for item in catalog.proofs["NO_HOUSING"].data_items]
        assert source.query("NO_HOUSING", owner.id_number, None).record["property_count"] >= 1
        assert source.query("REAL_ESTATE_CERT", owner.id_number, owner.name).record["right_holders"][0] == owner.name
        with pytest.raises(SubjectNotFound):
            source.query("NO_HOUSING", UNKNOWN, None)
        with pytest.raises(SubjectNotFound):
            source.query("NO_HOUSING", without.id_number, "另一个人")
        with pytest.raises(ValueError, match="held by MZ"):
            source.query("MARITAL_STATUS", without.id_number, None)
    finally:
        source.close()
    assert httpx.get(f"{connector.url}/openapi.json").json() == connector_openapi()


def test_a_wrong_token_is_reported_as_such(connector: Connector, catalog: Catalog, residents: list[DemoResident]) -> None:
    source = adapter(connector.url, catalog, token="not-the-connectors-token")
    try:
        with pytest.raises(SourceRejected) as raised:
            source.query("NO_HOUSING", residents[0].id_number, None)
    finally:
        source.close()
    assert raised.value.status == 401 and "token" in str(raised.value)
    assert source.breaker.state is BreakerState.CLOSED  # the connector is up: not a failure


def test_the_connector_refuses_bad_queries_with_problems(connector: Connector) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bad = httpx.post(f"{connector.url}/v1/records/query", headers=headers,
                     json={"proof": "NO_HOUSING", "subject": {"id_number": UNKNOWN[:-1] + "7"}})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["pointer"] == "#/subject/id_number"
    assert httpx.post(f"{connector.url}/v1/records/query", headers=headers, content=b"{").status_code == 415
    nested = httpx.post(f"{connector.url}/v1/records/query", content=b"[" * 5000 + b"]" * 5000,
                        headers={**headers, "Content-Type": "application/json"})
    assert nested.status_code == 400 and nested.json()["type"].endswith("/invalid-request")
    unauthenticated = httpx.post(f"{connector.url}/v1/records/query", json={})
    assert unauthenticated.status_code == 401 and unauthenticated.headers["WWW-Authenticate"] == "Bearer"


def test_a_slow_connector_trips_the_breaker_which_then_fails_fast(catalog: Catalog, residents: list[DemoResident]) -> None:
    script = Script([Reply(delay_seconds=1.5)])
    with stub_connector(script) as url:
        source = adapter(url, catalog, read_timeout_seconds=0.2, retries=0)
        try:
            for _ in range(2):  # the reply would come after 1.5 s: the 0.2 s read timeout ends the wait
                with pytest.raises(SourceUnavailable, match="no answer within 0.2 s"):
                    source.query("NO_HOUSING", residents[0].id_number, None)
            assert source.breaker.state is BreakerState.OPEN
            with pytest.raises(SourceUnavailable, match="circuit breaker open") as raised:
                source.query("NO_HOUSING", residents[0].id_number, None)
            assert raised.value.retry_after_seconds == 1
            assert len(script.requests) == 2  # the open breaker did not call
        finally:
            source.close()


def test_a_stopped_connector_is_unavailable_and_used_again_when_restarted(
    connector: Connector, catalog: Catalog, residents: list[DemoResident]
) -> None:
    source = adapter(connector.url, catalog)
    clock = ManualClock()
    source.breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=1.0, clock=clock)
    resident = residents[0]
    try:
        assert source.query("NO_HOUSING", resident.id_number, None).record["full_name"] == resident.name
        connector.stop()
        with pytest.raises(SourceUnavailable) as raised:  # refused at once: nothing listens any more
            source.query("NO_HOUSING", resident.id_number, None)
        assert "cannot reach" in raised.value.reason and raised.value.department == "BDC"
        assert source.breaker.state is BreakerState.OPEN  # two failed attempts
        with pytest.raises(SourceUnavailable, match="circuit breaker open"):
            source.query("NO_HOUSING", resident.id_number, None)
        connector.start()
        clock.advance(1.0)  # the cool-down
        assert source.query("NO_HOUSING", resident.id_number, None).record["full_name"] == resident.name
        assert source.breaker.state is BreakerState.CLOSED
    finally:
        source.close()


def test_the_cli_refuses_an_unknown_department_and_a_missing_token(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "MIANZHENG_VAR_DIR": str(tmp_path)}
    unknown = run_cli(env, "connector", "serve", "XX")
    assert unknown.returncode == 3 and "不是数据源部门" in unknown.stderr
    no_token = run_cli(env, "connector", "serve", "BDC")
    assert no_token.returncode == 1 and "--token-file" in no_token.stderr


@pytest.mark.parametrize("demo_mode", ["1", "0"], ids=["demo", "production"])
def test_the_cli_stops_when_the_departments_database_is_missing(tmp_path: Path, demo_mode: str) -> None:
    """Before serving: the default file, or a file given with --database, that is not there. Only a
    demo installation is told of the demo data; a department is told to give its own database."""
    env = {"PATH": "/usr/bin:/bin", "MIANZHENG_VAR_DIR": str(tmp_path), "MIANZHENG_DEV_IDP": demo_mode,
           "MIANZHENG_CONNECTOR_TOKEN": TOKEN}
    for given in ((), ("--database", str(tmp_path / "records.db"))):
        missing = run_cli(env, "connector", "serve", "BDC", "--port", "1", *given)
        assert missing.returncode == 4, missing.stdout + missing.stderr
        assert ("records.db" if given else "BDC.db") in missing.stderr and "不存在" in missing.stderr
        assert ("mianzheng demo generate" in missing.stderr) == (demo_mode == "1")
        assert ("--database" in missing.stderr) == (demo_mode == "0")


def test_demo_residents_and_households_are_listed_in_chinese(demo_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "sources").symlink_to(demo_folder)
    result = run_cli({"PATH": "/usr/bin:/bin", "MIANZHENG_VAR_DIR": str(tmp_path)}, "demo", "residents", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "姓名\t身份证号\t户号\t情况" and len(lines) == 4
    assert "无房" in lines[1] and "有房" in lines[2]
    empty = run_cli({"PATH": "/usr/bin:/bin", "MIANZHENG_VAR_DIR": str(tmp_path / "none")}, "demo", "residents")
    assert empty.returncode == 4
    households = run_cli({"PATH": "/usr/bin:/bin", "MIANZHENG_VAR_DIR": str(tmp_path)},
                         "demo", "households", "--count", "3")
    assert households.returncode == 0, households.stderr
    relations = [line.split("\t")[-1] for line in households.stdout.splitlines() if line.startswith("  ")]
    assert relations.count("户主") == 3 and set(relations) <= set(RELATIONS_ZH.values()), relations
