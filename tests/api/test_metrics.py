"""`GET /metrics` of a served instance: Prometheus text summed over gunicorn's workers, per route
template (never a raw path), with pulls per source, queue depths and the jobs' heartbeat; only
for scrapers on the loopback interface."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from api.settings import Settings
from demo.data import sample_residents
from tests.api.test_exchange_requests import client_token, consent, envelope, _bearer
from tests.support.cli import MIANZHENG, cli_environment, run_cli_process, wait_until_answering
from tests.support.postgres import free_port

ID_NUMBER = "11010519491231002X"
MATTER_ROUTE = "/api/v1/catalog/matters/<code>"


FIRST_PULLS_IN_PARALLEL = """
import threading
from api.metrics import record_pull

start = threading.Barrier(16)
failures = []

def pull():
    start.wait()
    try:
        record_pull("BDC", "answered", object())
    except Exception as error:
        failures.append(type(error).__name__)

threads = [threading.Thread(target=pull) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
from prometheus_client import REGISTRY
print(failures, REGISTRY.get_sample_value("mianzheng_source_pulls_total", {"department": "BDC", "outcome": "answered"}))
"""


@contextmanager
def _served(database_url: str, settings: Settings, jobs_interval: float) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`mianzheng serve` with 2 workers on a free port, answering; its process and base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**cli_environment(database_url, settings.var_dir), "MIANZHENG_PUBLIC_URL": base, "MIANZHENG_DEV_IDP": "1"}
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2",
                               "--jobs-interval", str(jobs_interval)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until_answering(f"{base}/readyz", server, "the server")
        yield server, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.mark.slow
def test_a_served_instance_reports_requests_pulls_and_queues(database_url: str, settings: Settings,
                                                             tmp_path: Path) -> None:
    with _served(database_url, settings, jobs_interval=1) as (_, base):
        for _ in range(5):
            assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/api/v1/catalog/matters/PUBLIC_RENTAL_HOUSING").status_code == 200
        assert httpx.get(f"{base}/no/such/{ID_NUMBER}").status_code == 404
        person = sample_residents(settings.sources_dir, 1)[0]
        pulled = httpx.post(f"{base}/api/v1/exchange/requests", headers=_bearer(client_token(settings)),
                            json=envelope(person, "metrics-1", consent_id=consent(base, person)))
        assert pulled.status_code == 200, pulled.text

        # the workers write their figures through memory maps: a page of a map that the disk has no
        # block for kills the worker (SIGBUS) when the disk is full, so every page is reserved
        figures = list((settings.var_dir / "metrics").glob("*.db"))
        assert figures and [(path.name, path.stat().st_blocks * 512, path.stat().st_size) for path in figures
                            if path.stat().st_blocks * 512 < path.stat().st_size] == []

        deadline = time.monotonic() + 30
        while True:  # the jobs process beats once it has finished its first pass
            response = httpx.get(f"{base}/metrics")
            samples = _samples(response.text)
            if ("mianzheng_jobs_heartbeat_age_seconds", ()) in samples or time.monotonic() > deadline:
                break
            time.sleep(0.5)

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert ID_NUMBER not in response.text and person.id_number not in response.text
    healthz = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert samples[("mianzheng_http_requests_total", healthz)] == 5  # summed over both workers
    assert samples[("mianzheng_http_request_duration_seconds_count", healthz[:2])] == 5
    routes = {dict(labels).get("route") for _, labels in samples}
    assert MATTER_ROUTE in routes and "/api/v1/catalog/matters/PUBLIC_RENTAL_HOUSING" not in routes
    assert samples[("mianzheng_http_requests_total", (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))] == 1
    assert samples[("mianzheng_source_pulls_total", (("department", "BDC"), ("outcome", "answered")))] == 1
    assert samples[("mianzheng_queue_depth", (("queue", "applications_waiting"),))] == 0
    assert 0 <= samples[("mianzheng_jobs_heartbeat_age_seconds", ())] < 60


@pytest.mark.slow
def test_a_commands_pulls_count_in_the_metrics_of_the_server_beside_it(database_url: str, settings: Settings,
                                                                       tmp_path: Path) -> None:
    """The counter's issuance, 年度复核 and a jobs process of its own are commands, each in a
    process of its own: an operator watching `/metrics` sees their pulls with the server's (a
    source failing only the re-check would be seen nowhere else). With no server running, a
    command leaves no figures behind."""
    person = sample_residents(settings.sources_dir, 1)[0]
    env = cli_environment(database_url, settings.var_dir)

    def counter_issuance(out: str) -> None:
        issued = run_cli_process(env, "certificate", "issue", "--operator", "GK-0001", "--id-number",
                                 person.id_number, "--name", person.name, "--proof", "NO_HOUSING",
                                 "--purpose", "申请公共租赁住房", "--out", str(tmp_path / out))
        assert issued.returncode == 0, issued.stderr

    with _served(database_url, settings, jobs_interval=0) as (_, base):
        counter_issuance("served")
        samples = _samples(httpx.get(f"{base}/metrics").text)
    assert samples[("mianzheng_source_pulls_total", (("department", "BDC"), ("outcome", "answered")))] == 1
    counter_issuance("alone")
    assert not list((settings.var_dir / "metrics").glob("*.db"))


def test_metrics_are_not_served_beyond_the_loopback_interface(app: Flask) -> None:
    client = app.test_client()
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert outside.status_code == 404 and outside.mimetype == "application/problem+json"
    assert "mianzheng_" not in outside.get_data(as_text=True)
    local = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200 and "mianzheng_queue_depth" in local.get_data(as_text=True)


def test_made_up_methods_add_no_series(app: Flask) -> None:
    """A label value per method a client invents would let anyone grow every worker's metrics
    without bound: methods outside HTTP's own are counted as `other`."""
    client = app.test_client()
    for number in range(20):
        client.open("/api/v1/catalog", method=f"M{number}X")
    text = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
    methods = {dict(labels)["method"] for _, labels in _samples(text) if "method" in dict(labels)}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"} and "other" in methods


def jobs_pass_warnings(settings: Settings, caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings one pass of the jobs logs."""
    from api.jobs import sweep
    from api.runtime import Runtime
    from exchange.applications.leases import new_holder

    current = Runtime.start(settings)
    try:
        with caplog.at_level("WARNING", logger="api.jobs"):
            sweep(current, new_holder(), 30.0)
    finally:
        current.engine.dispose()
    return [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]


def test_a_crl_near_its_end_shows_in_the_metrics_and_the_jobs_log(settings: Settings, app: Flask,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Only `mianzheng seal crl` (a daily timer) renews the CRL, with the root key the service
    never loads: when that timer is missing, every verification becomes 无法确认 after 7 days.
    The operator sees the time left in /metrics and a warning in the jobs' log the day before."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from api.database import standalone_session
    from seals.registry import SealCa

    def seconds_left() -> float:
        text = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
        return _samples(text)[("mianzheng_crl_seconds_left", ())]

    assert 6 * 86400 < seconds_left() <= 7 * 86400
    with standalone_session(settings.database_url) as session:
        session.execute(update(SealCa).values(crl_next_update=datetime.now(timezone.utc) + timedelta(hours=3)))
    assert 2 * 3600 < seconds_left() <= 3 * 3600
    assert any("mianzheng seal crl" in warning for warning in jobs_pass_warnings(settings, caplog))


def test_a_seal_near_its_end_shows_in_the_metrics_the_jobs_log_and_init(settings: Settings, app: Flask,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """`init` seals every department at once, each for three years: they all end on one day, and
    then no department signs anything. The operator sees each seal's time left in /metrics, a
    warning in the jobs' log and in `init` from two months before, naming the command."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from api.database import standalone_session
    from seals.registry import Seal, SealStatus
    from tests.support.cli import run_cli

    def seconds_left() -> dict[str, float]:
        text = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
        return {dict(labels)["department"]: value for (name, labels), value in _samples(text).items()
                if name == "mianzheng_seal_seconds_left"}

    left = seconds_left()
    assert {"GA", "BDC", "SJ"} <= set(left) and min(left.values()) > 1000 * 86400, left
    with standalone_session(settings.database_url) as session:
        session.execute(update(Seal).where(Seal.department_code == "GA", Seal.status == SealStatus.ACTIVE)
                        .values(not_after=datetime.now(timezone.utc) + timedelta(days=20)))
    assert 19 * 86400 < seconds_left()["GA"] <= 20 * 86400
    assert any("mianzheng seal rotate GA" in warning for warning in jobs_pass_warnings(settings, caplog))
    initialised = run_cli(cli_environment(settings.database_url, settings.var_dir), "init")
    assert initialised.returncode == 0 and "mianzheng seal rotate GA" in initialised.stdout, initialised.stdout
    with standalone_session(settings.database_url) as session:  # lapsed: a rotation can no longer be made
        session.execute(update(Seal).where(Seal.department_code == "GA", Seal.status == SealStatus.ACTIVE)
                        .values(not_after=datetime.now(timezone.utc) - timedelta(hours=1)))
    assert seconds_left()["GA"] < 0
    lapsed = run_cli(cli_environment(settings.database_url, settings.var_dir), "init")
    assert "已于" in lapsed.stdout and "mianzheng seal issue GA" in lapsed.stdout, lapsed.stdout


def test_a_seal_naming_its_department_as_before_a_rename_is_warned_of_on_every_pass(
        settings: Settings, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """The catalog administrator publishes a department's new legal name; the seal officer, who
    may not have seen the publication's notice, reads it in the jobs' log until the seal is
    rotated."""
    import shutil

    from api.database import standalone_session
    from catalog.loading import bundled_catalog_path, load_catalog
    from exchange.operations import Actor, publish_recorded
    from tests.support.cli import run_cli

    copy = tmp_path / "catalog"
    shutil.copytree(bundled_catalog_path(), copy)
    departments = copy / "departments.yaml"
    departments.write_text(departments.read_text("utf-8").replace("legal_name_zh: 金华市公安局",
                                                                  "legal_name_zh: 金华市公安局（新）"), "utf-8")
    with standalone_session(settings.database_url) as session:
        publish_recorded(session, load_catalog(copy), "目录管理员", None, Actor())
    assert any("mianzheng seal rotate GA" in warning and "金华市公安局（新）" in warning
               for warning in jobs_pass_warnings(settings, caplog))
    assert run_cli(cli_environment(settings.database_url, settings.var_dir), "seal", "rotate", "GA").returncode == 0
    caplog.clear()
    assert not any("seal rotate" in warning for warning in jobs_pass_warnings(settings, caplog))


def test_a_department_whose_seal_was_revoked_stays_on_the_gauge(settings: Settings, app: Flask,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A seal revoked and not yet replaced leaves its department signing nothing, as a lapsed one
    does: the gauge keeps the department, in the past from the revocation on (an alert on it
    fires), and the jobs' log names the command that gives it a seal again."""
    from tests.support.cli import run_cli

    def seconds_left() -> dict[str, float]:
        text = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
        return {dict(labels)["department"]: value for (name, labels), value in _samples(text).items()
                if name == "mianzheng_seal_seconds_left"}

    environment = cli_environment(settings.database_url, settings.var_dir)
    revoked = run_cli(environment, "seal", "revoke", "GA", "--reason", "cessation_of_operation")
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    left = seconds_left()
    assert "GA" in left and -60 < left["GA"] <= 0, left
    assert any("mianzheng seal issue GA" in warning for warning in jobs_pass_warnings(settings, caplog))
    initialised = run_cli(environment, "init")
    assert "失效（到期或被吊销）" in initialised.stdout and "mianzheng seal issue GA" in initialised.stdout
    assert run_cli(environment, "seal", "issue", "GA").returncode == 0
    assert seconds_left()["GA"] > 1000 * 86400


def test_the_first_pulls_of_a_process_are_counted_when_they_run_in_parallel() -> None:
    """An application's pulls run in parallel threads, so in a fresh process several of them
    may be the first to count a pull: each is counted, none fails."""
    counted = subprocess.run([sys.executable, "-c", FIRST_PULLS_IN_PARALLEL], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[2])
    assert counted.stdout.split() == ["[]", "16.0"]


FIGURES_ON_A_FULL_DISK = """
import errno, os, sys, tempfile
folder = tempfile.mkdtemp()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from api.metrics import _reserve_figure_files, record_pull
_reserve_figure_files()

def full(*args):
    raise OSError(errno.ENOSPC, "No space left on device")
os.posix_fallocate = full  # the disk holding var/ is full: no block can be reserved
record_pull("BDC", "answered", object())  # the pull goes on; its figure is lost
registry = CollectorRegistry()
MultiProcessCollector(registry, folder)
print(sorted(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)), len(generate_latest(registry)))
"""


def test_a_figure_lost_to_a_full_disk_leaves_no_file_that_breaks_the_scrape() -> None:
    """A figure file that could not reserve its blocks is not left behind empty: the scrape reads
    every process's files, and an empty one made every `/metrics` answer a 500 while the disk was full."""
    run = subprocess.run([sys.executable, "-c", FIGURES_ON_A_FULL_DISK], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr
    sizes, _ = run.stdout.split("] ")
    assert sizes == "[", run.stdout  # no file at all, none empty


@pytest.mark.slow
def test_a_worker_leaving_does_not_take_the_other_workers_metrics_with_it(database_url: str, settings: Settings) -> None:
    """An operator scales the workers down (gunicorn's TTOU): the worker that leaves exits cleanly,
    and the service and its metrics go on answering from the one that stays."""
    with _served(database_url, settings, jobs_interval=0) as (server, base):
        for _ in range(4):
            assert httpx.get(f"{base}/healthz").status_code == 200
        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(workers) == 2
        server.send_signal(signal.SIGTTOU)
        deadline = time.monotonic() + 30
        while len(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()) > 1:
            assert time.monotonic() < deadline, "a worker should have left"
            time.sleep(0.2)
        answers = [httpx.get(f"{base}/healthz").status_code for _ in range(6)]
        metrics = httpx.get(f"{base}/metrics")
    assert answers == [200] * 6
    assert metrics.status_code == 200, metrics.text
    healthz = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert _samples(metrics.text)[("mianzheng_http_requests_total", healthz)] >= 6
