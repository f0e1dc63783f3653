"""Trust under concurrency, against two nodes of `mianzheng serve` (gunicorn, several worker processes
each) and one jobs process on SQLite and PostgreSQL: many clients issue and revoke certificates and file the same application at once.
Every answer is a success (never a 5xx), serials and status entries are unique, every revocation is
in the signed status list, identical filings make one application, and the access log verifies.
`scripts/bench/concurrency_trial.py` runs the same at the scale of 1,000 issuances and revocations
by 32 clients, and kills workers mid-request: every source query stays logged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from api.database import standalone_session
from api.settings import Settings
from catalog.versions import read_live_catalog
from demo.applications import public_housing_request
from exchange.applications.records import Application
from exchange.certificate_records import IssuedCertificate
from exchange.certificates.status_list import read_status_list
from exchange.clients import ClientScope, register_client
from demo.data import demo_households, sample_residents
from seals.registry import trust_store
from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.postgres import free_port

CLIENTS = 16
ISSUANCES = 48


@pytest.fixture(scope="module")
def served(module_settings: Settings) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Two nodes: two `mianzheng serve` processes (two workers each, no jobs) on different ports and
    one `mianzheng jobs run`, all on the module's database, as behind a load balancer; their base
    URLs and the CLI environment. The tests share them: each adds its own certificates or filing."""
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    env = {**cli_environment(module_settings.database_url, module_settings.var_dir), "MIANZHENG_DEV_IDP": "1",
           "MIANZHENG_PUBLIC_URL": bases[0]}
    processes = [subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2", "--jobs-interval", "0"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT) for port in ports]
    processes.append(subprocess.Popen([MIANZHENG, "jobs", "run", "--interval", "2"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    try:
        for base, server in zip(bases, processes):
            wait_until_answering(f"{base}/readyz", server, "the server", timeout=60)  # type: ignore[arg-type]
        yield bases, env
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _token(settings: Settings, department: str, scope: str) -> str:
    with standalone_session(settings.database_url) as session:
        _, token = register_client(session, read_live_catalog(session), department, "并发测试系统", [scope])
    return token


def test_concurrent_issuance_and_revocation_lose_nothing(module_settings: Settings,
                                                         served: tuple[list[str], dict[str, str]]) -> None:
    bases, env = served
    base = bases[0]
    [resident] = sample_residents(module_settings.sources_dir, 1)  # a registered resident: every issuance succeeds
    assertion = httpx.post(f"{base}/dev-idp/token", json={"name": resident.name, "id_number": resident.id_number},
                           timeout=60).json()["assertion"]
    holder = {"Authorization": f"Bearer {assertion}"}

    def issue(number: int) -> httpx.Response:
        headers = holder
        return httpx.post(f"{bases[number % 2]}/api/v1/me/certificates", headers=headers, timeout=120,
                          json={"proof": "HOUSEHOLD_REGISTRATION", "purpose": f"并发开具 {number}"})

    with ThreadPoolExecutor(CLIENTS) as pool:
        issued = list(pool.map(issue, range(ISSUANCES)))
    assert [r.status_code for r in issued] == [201] * ISSUANCES, [r.text for r in issued if r.status_code != 201][:3]
    identifiers = [r.json()["identifier"] for r in issued]
    with standalone_session(module_settings.database_url) as session:
        rows = session.query(IssuedCertificate.serial, IssuedCertificate.status_index,
                             IssuedCertificate.issuer_department).all()
    assert len({(department, serial) for serial, _, department in rows}) == len(rows) == ISSUANCES
    assert len({index for _, index, _ in rows}) == ISSUANCES

    revoker = {"Authorization": f"Bearer {_token(module_settings, 'GA', ClientScope.CERTIFICATES_REVOKE)}"}

    def revoke(identifier: str) -> httpx.Response:
        node = bases[int(identifier.split(".")[-3]) % 2]  # by serial: half the revocations on each node
        return httpx.post(f"{node}/api/v1/certificates/{identifier}/revocation", headers=revoker, timeout=120,
                          json={"reason": "data_changed"})

    with ThreadPoolExecutor(CLIENTS) as pool:
        revoked = list(pool.map(revoke, identifiers))
    assert [r.status_code for r in revoked] == [200] * ISSUANCES, [r.text for r in revoked if r.status_code != 200][:3]

    token = httpx.get(f"{base}/api/v1/status-lists/1").text
    with standalone_session(module_settings.database_url) as session:
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


def test_identical_concurrent_filings_make_one_application(module_settings: Settings,
                                                          served: tuple[list[str], dict[str, str]]) -> None:
    bases, _env = served
    with standalone_session(module_settings.database_url) as session:
        catalog = read_live_catalog(session)
    [household] = demo_households(module_settings.sources_dir, catalog, "public_housing_eligible", 1)
    body = public_housing_request(household, "same-filing-1", signed_at=datetime.now(timezone.utc))
    headers = {"Authorization": f"Bearer {_token(module_settings, 'ZJ', ClientScope.APPLICATIONS_WRITE)}",
               "Prefer": "respond-async"}

    def file(number: int) -> httpx.Response:
        return httpx.post(f"{bases[number % 2]}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications", headers=headers, json=body,
                          timeout=120)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(file, range(CLIENTS * 2)))
    assert {r.status_code for r in answers} <= {200, 202}, [r.text for r in answers if r.status_code >= 300][:3]
    assert len({r.json()["id"] for r in answers}) == 1
    with standalone_session(module_settings.database_url) as session:
        assert session.query(Application).filter(Application.request_id == "same-filing-1").count() == 1
    assert [httpx.get(f"{base}/readyz").json()["jobs"]["status"] for base in bases] == ["ok", "ok"]  # one jobs, seen by both



@pytest.mark.slow
def test_the_concurrency_trial_passes_at_small_scale(sqlite_template: Path, tmp_path: Path) -> None:
    """The trial script (on a copy of the initialised SQLite installation, public security's
    reference connector over HTTP, workers killed with SIGKILL mid-request) finds every figure right."""
    trial = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "concurrency_trial.py"
    shutil.copytree(sqlite_template / "var", tmp_path / "var")
    shutil.copyfile(sqlite_template / "template.db", tmp_path / "trial.db")
    result = subprocess.run([sys.executable, str(trial), "--database-url", f"sqlite:///{tmp_path / 'trial.db'}",
                             "--var-dir", str(tmp_path / "var"), "--certificates", "16", "--clients", "8",
                             "--filings", "16", "--kill-rounds", "2", "--workers", "2"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(line.startswith("ok") for line in lines), result.stdout
