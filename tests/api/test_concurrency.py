"""Trust under concurrency, against `mianzheng serve` (gunicorn, several worker processes) on SQLite
and PostgreSQL: many clients issue and revoke certificates and file the same application at once.
Every answer is a success (never a 5xx), serials and status entries are unique, every revocation is
in the signed status list, identical filings make one application, and the access log verifies.
Workers killed with SIGKILL mid-request leave every source query logged. `scripts/trial/concurrency.py`
runs the same at the scale of 500 issuances, 1,000 revocations and 10 kill rounds."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from api.database import standalone_session
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.access_log import AccessRecord
from exchange.applications.demo_applications import public_housing_request
from exchange.applications.records import Application
from exchange.certificate_records import IssuedCertificate
from exchange.certificates.status_list import read_status_list
from exchange.clients import ClientScope, register_client
from exchange.sources.demo_data import demo_households, sample_residents
from seals.registry import trust_store
from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.connector import Connector
from tests.support.processes import child_processes
from tests.support.postgres import free_port

CLIENTS = 16
ISSUANCES = 48
KILL_ROUNDS = 5


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`mianzheng serve` with three workers (no jobs) on the test database, and its CLI environment."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**cli_environment(settings.database_url, settings.var_dir), "MIANZHENG_DEV_IDP": "1",
           "MIANZHENG_PUBLIC_URL": base}
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "3", "--jobs-interval", "0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_until_answering(f"{base}/readyz", server, "the server", timeout=60)  # type: ignore[arg-type]
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def _token(settings: Settings, department: str, scope: str) -> str:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), department, "并发测试系统", [scope])
    return token


def test_concurrent_issuance_and_revocation_lose_nothing(settings: Settings,
                                                         served: tuple[str, dict[str, str]]) -> None:
    base, env = served
    [resident] = sample_residents(settings.sources_dir, 1)  # a registered resident: every issuance succeeds
    assertion = httpx.post(f"{base}/dev-idp/token", json={"name": resident.name, "id_number": resident.id_number},
                           timeout=60).json()["assertion"]
    holder = {"Authorization": f"Bearer {assertion}"}

    def issue(number: int) -> httpx.Response:
        headers = holder
        return httpx.post(f"{base}/api/v1/me/certificates", headers=headers, timeout=120,
                          json={"proof": "HOUSEHOLD_REGISTRATION", "purpose": f"并发开具 {number}"})

    with ThreadPoolExecutor(CLIENTS) as pool:
        issued = list(pool.map(issue, range(ISSUANCES)))
    assert [r.status_code for r in issued] == [201] * ISSUANCES, [r.text for r in issued if r.status_code != 201][:3]
    identifiers = [r.json()["identifier"] for r in issued]
    with standalone_session(settings.database_url) as session:
        rows = session.query(IssuedCertificate.serial, IssuedCertificate.status_index,
                             IssuedCertificate.issuer_department).all()
    assert len({(department, serial) for serial, _, department in rows}) == len(rows) == ISSUANCES
    assert len({index for _, index, _ in rows}) == ISSUANCES

    revoker = {"Authorization": f"Bearer {_token(settings, 'GA', ClientScope.CERTIFICATES_REVOKE)}"}

    def revoke(identifier: str) -> httpx.Response:
        return httpx.post(f"{base}/api/v1/certificates/{identifier}/revocation", headers=revoker, timeout=120,
                          json={"reason": "data_changed"})

    with ThreadPoolExecutor(CLIENTS) as pool:
        revoked = list(pool.map(revoke, identifiers))
    assert [r.status_code for r in revoked] == [200] * ISSUANCES, [r.text for r in revoked if r.status_code != 200][:3]

    token = httpx.get(f"{base}/api/v1/status-lists/1").text
    with standalone_session(settings.database_url) as session:
        status_list = read_status_list(token, trust_store(session), now=datetime.now(timezone.utc))
    assert status_list.revoked_indexes() == {index for _, index, _ in rows}  # every revocation, signed
    credential = httpx.get(f"{base}/api/v1/certificates/{identifiers[-1]}.jws", headers=holder).text
    verification = httpx.post(f"{base}/api/v1/verify", json={"credential": credential}).json()
    assert verification["status"] == "INVALID" and verification["revocation_reason"] == "data_changed"
    assert {c["check"]: c["code"] for c in verification["checks"]}["certificate_status"] == "certificate_revoked"

    check = run_cli(env, "certificate", "status-list", "check")
    assert check.returncode == 0 and f"已撤销电子证明 {ISSUANCES} 张；状态列表漏记 0 张" in check.stdout
    audit = run_cli(env, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_identical_concurrent_filings_make_one_application(settings: Settings,
                                                          served: tuple[str, dict[str, str]]) -> None:
    base, _env = served
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    [household] = demo_households(settings.sources_dir, catalog, "public_housing_eligible", 1)
    body = public_housing_request(household, "same-filing-1", signed_at=datetime.now(timezone.utc))
    headers = {"Authorization": f"Bearer {_token(settings, 'ZJ', ClientScope.APPLICATIONS_WRITE)}",
               "Prefer": "respond-async"}

    def file(_: int) -> httpx.Response:
        return httpx.post(f"{base}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications", headers=headers, json=body,
                          timeout=120)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(file, range(CLIENTS * 2)))
    assert {r.status_code for r in answers} <= {200, 202}, [r.text for r in answers if r.status_code >= 300][:3]
    assert len({r.json()["id"] for r in answers}) == 1
    with standalone_session(settings.database_url) as session:
        assert session.query(Application).filter(Application.request_id == "same-filing-1").count() == 1


@pytest.mark.slow
def test_workers_killed_mid_request_leave_every_source_query_logged(settings: Settings, tmp_path: Path) -> None:
    """Public security's (GA) reference connector counts what it is asked; the exchange's workers
    are killed with SIGKILL while issuances and pulls hit GA. Afterwards the access log verifies
    and every query GA answered has its entry (a kill between logging and asking may leave one
    entry more than queries, never one fewer)."""
    token = "ga-connector-token-0123456789"
    token_file = tmp_path / "ga-token"
    token_file.write_text(token + "\n", encoding="utf-8")
    connector = Connector("GA", settings.sources_dir / "GA.db", token_file, free_port())
    connector.start()
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(f"departments:\n  GA:\n    url: {connector.url}\n    token: {token}\n"
                            "    timeout_seconds: 5\n    retries: 0\n", encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**cli_environment(settings.database_url, settings.var_dir), "MIANZHENG_DEV_IDP": "1",
           "MIANZHENG_PUBLIC_URL": base, "MIANZHENG_SOURCES_FILE": str(sources_file)}
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2", "--jobs-interval", "0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    [resident] = sample_residents(settings.sources_dir, 1)
    try:
        wait_until_answering(f"{base}/readyz", server, "the server", timeout=60)  # type: ignore[arg-type]
        holder = {"Authorization": "Bearer " + httpx.post(
            f"{base}/dev-idp/token", json={"name": resident.name, "id_number": resident.id_number}).json()["assertion"]}
        httpx.post(f"{base}/api/v1/me/consents", headers=holder, json={
            "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["HOUSEHOLD_REGISTRATION"], "department": "ZJ", "days": 30})
        puller = {"Authorization": f"Bearer {_token(settings, 'ZJ', ClientScope.EXCHANGE_REQUEST)}"}
        stop = threading.Event()

        def load(worker: int) -> None:
            number = 0
            while not stop.is_set():
                number += 1
                try:
                    if worker % 2:
                        httpx.post(f"{base}/api/v1/me/certificates", headers=holder, timeout=30,
                                   json={"proof": "HOUSEHOLD_REGISTRATION", "purpose": f"压力 {worker}-{number}"})
                    else:
                        httpx.post(f"{base}/api/v1/exchange/requests", headers=puller, timeout=30, json={
                            "request_id": f"kill-{worker}-{number}", "caseworker_id": "zj-1", "case_number": "K-1",
                            "matter": "PUBLIC_RENTAL_HOUSING", "proof": "HOUSEHOLD_REGISTRATION", "purpose": "公租房资格审核",
                            "subject": {"id_number": resident.id_number, "name": resident.name}})
                except httpx.TransportError:
                    pass  # the worker answering it was killed

        threads = [threading.Thread(target=load, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        killed = 0
        for _ in range(KILL_ROUNDS):
            time.sleep(0.7)
            workers = list(child_processes(server.pid))
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed += 1
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
        answered = connector.stop()
    queries = sum(1 for line in answered.splitlines() if '"POST /' in line)
    with standalone_session(settings.database_url) as session:
        logged = session.query(AccessRecord).filter(AccessRecord.proof == "HOUSEHOLD_REGISTRATION",
                                                    AccessRecord.outcome == "allowed",
                                                    AccessRecord.reason.is_(None)).count()
    assert killed == KILL_ROUNDS and queries > KILL_ROUNDS
    assert queries <= logged <= queries + killed, (queries, logged)
    audit = run_cli(env, "audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr

