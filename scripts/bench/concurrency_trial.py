"""Trust under concurrency at scale, against `mianzheng serve` (gunicorn) on a fresh installation:

    python scripts/bench/concurrency_trial.py [--database-url URL] [--certificates 1000] [--clients 32]
                                              [--filings 64] [--kill-rounds 10] [--workers 3]

1. `--certificates` issuances by `--clients` concurrent clients: errors, distinct serials and
   status-list entries;
2. the same number of revocations by as many clients: errors, revoked entries missing from the
   signed status list, and `mianzheng certificate status-list check`;
3. `--filings` identical application filings at once: errors and applications made;
4. `--kill-rounds` SIGKILLs of a worker while issuances and exchange pulls hit public security's
   reference connector over HTTP: queries the connector answered against pulls logged;
5. `mianzheng audit verify`.

It prints one line per figure and exits 1 if any of them is wrong. SQLite unless --database-url
(an empty PostgreSQL database, e.g. `postgresql://postgres@127.0.0.1:5432/trial`). With
--var-dir, the installation of that var/ folder and --database-url is used (and brought up to
date as `mianzheng init` does) instead of a fresh one: the suite passes a copy of its template.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
from served import free_port, wait_ready

from api.database import standalone_session
from api.initialise import initialise
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.access_log import AccessRecord
from demo.applications import public_housing_request
from exchange.applications.records import Application
from exchange.certificate_records import IssuedCertificate
from exchange.certificates.status_list import read_status_list
from exchange.clients import ClientScope, register_client
from demo.data import demo_households, sample_residents
from seals.registry import trust_store

MIANZHENG = str(Path(sys.executable).with_name("mianzheng"))
CONNECTOR_TOKEN = "ga-connector-token-0123456789"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--var-dir", type=Path, default=None)
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--filings", type=int, default=64)
    parser.add_argument("--kill-rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    if args.var_dir is not None and args.database_url is None:
        parser.error("--var-dir needs --database-url, the installation's database")
    with tempfile.TemporaryDirectory(prefix="mianzheng-trial-") as folder:
        var_dir = args.var_dir or Path(folder) / "var"
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'trial.db'}"
        port, connector_port = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(var_dir=var_dir, database_url=database_url, public_url=base)
        initialise(settings)
        token_file = Path(folder) / "ga-token"
        token_file.write_text(CONNECTOR_TOKEN, encoding="utf-8")
        sources_file = Path(folder) / "sources.yaml"
        sources_file.write_text(f"departments:\n  GA:\n    url: http://127.0.0.1:{connector_port}\n"
                                f"    token: {CONNECTOR_TOKEN}\n    timeout_seconds: 5\n    retries: 0\n", encoding="utf-8")
        env = {**os.environ, "MIANZHENG_VAR_DIR": str(var_dir), "MIANZHENG_DATABASE_URL": database_url,
               "MIANZHENG_PUBLIC_URL": base, "MIANZHENG_DEV_IDP": "1", "MIANZHENG_SOURCES_FILE": str(sources_file)}
        connector = subprocess.Popen(
            [MIANZHENG, "connector", "serve", "GA", "--port", str(connector_port), "--workers", "2",
             "--token-file", str(token_file), "--database", str(var_dir / "sources" / "GA.db")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", str(args.workers),
                                   "--jobs-interval", "0"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        failures: list[str] = []
        try:
            wait_ready(base)
            wait_ready(f"http://127.0.0.1:{connector_port}", probe="/healthz")  # GA answers before the load starts
            trial(args, settings, env, base, server, failures)
        finally:
            server.terminate()
            server.wait(timeout=60)
            connector.terminate()
            answered, _ = connector.communicate(timeout=60)
        queries = sum(1 for line in answered.splitlines() if '"POST /' in line)
        with standalone_session(database_url) as session:
            logged = session.query(AccessRecord).filter(AccessRecord.consumer_department.isnot(None),
                                                        AccessRecord.proof == "HOUSEHOLD_REGISTRATION",
                                                        AccessRecord.outcome == "allowed",
                                                        AccessRecord.reason.is_(None)).count()
        report("source queries answered by GA / pulls logged", f"{queries} / {logged}",
               queries <= logged <= queries + args.kill_rounds, failures)
        audit = subprocess.run([MIANZHENG, "audit", "verify"], env=env, capture_output=True, text=True)
        report("mianzheng audit verify", audit.stdout.strip().splitlines()[-1] if audit.stdout else audit.stderr.strip(),
               audit.returncode == 0, failures)
    sys.exit(1 if failures else 0)


def trial(args: argparse.Namespace, settings: Settings, env: dict[str, str], base: str,
          server: subprocess.Popen[bytes], failures: list[str]) -> None:
    [resident] = sample_residents(settings.sources_dir, 1)
    holder = {"Authorization": "Bearer " + httpx.post(f"{base}/dev-idp/token", timeout=60, json={
        "name": resident.name, "id_number": resident.id_number}).json()["assertion"]}

    def issue(number: int) -> httpx.Response:
        return httpx.post(f"{base}/api/v1/me/certificates", headers=holder, timeout=300,
                          json={"proof": "HOUSEHOLD_REGISTRATION", "purpose": f"并发开具 {number}"})

    started = time.monotonic()
    with ThreadPoolExecutor(args.clients) as pool:
        issued = list(pool.map(issue, range(args.certificates)))
    took = time.monotonic() - started
    errors = sum(r.status_code != 201 for r in issued)
    failed = next((f" first error: {r.status_code} {r.text[:200]}" for r in issued if r.status_code != 201), "")
    with standalone_session(settings.database_url) as session:
        rows = session.query(IssuedCertificate.issuer_department, IssuedCertificate.serial,
                             IssuedCertificate.status_list, IssuedCertificate.status_index).all()
    serials, entries = {(d, s) for d, s, _, _ in rows}, {(n, i) for _, _, n, i in rows}
    report(f"{args.certificates} issuances by {args.clients} clients: errors, distinct serials, distinct entries",
           f"{errors}, {len(serials)}, {len(entries)} ({took:.0f} s){failed}",
           errors == 0 and len(serials) == len(entries) == len(rows), failures)

    revoker = {"Authorization": f"Bearer {token(settings, 'GA', ClientScope.CERTIFICATES_REVOKE)}"}

    def revoke(response: httpx.Response) -> httpx.Response:
        return httpx.post(f"{base}/api/v1/certificates/{response.json()['identifier']}/revocation", headers=revoker,
                          timeout=300, json={"reason": "data_changed"})

    started = time.monotonic()
    with ThreadPoolExecutor(args.clients) as pool:
        revoked = list(pool.map(revoke, [r for r in issued if r.status_code == 201]))
    took = time.monotonic() - started
    with standalone_session(settings.database_url) as session:
        trust, now = trust_store(session), datetime.now(timezone.utc)
    published = {(number, index) for number in {n for n, _ in entries} for index in read_status_list(
        httpx.get(f"{base}/api/v1/status-lists/{number}").text, trust, now=now).revoked_indexes()}
    missing = entries - published
    check = subprocess.run([MIANZHENG, "certificate", "status-list", "check"], env=env, capture_output=True, text=True)
    report(f"{len(revoked)} revocations by {args.clients} clients: errors, missing from the signed list, check",
           f"{sum(r.status_code != 200 for r in revoked)}, {len(missing)}, exit {check.returncode} ({took:.0f} s)",
           all(r.status_code == 200 for r in revoked) and not missing and check.returncode == 0, failures)

    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
    [household] = demo_households(settings.sources_dir, catalog, "public_housing_eligible", 1)
    body = public_housing_request(household, "trial-filing-1", signed_at=datetime.now(timezone.utc))
    filer = {"Authorization": f"Bearer {token(settings, 'ZJ', ClientScope.APPLICATIONS_WRITE)}",
             "Prefer": "respond-async"}
    with ThreadPoolExecutor(args.filings) as pool:
        filed = list(pool.map(lambda _: httpx.post(f"{base}/api/v1/matters/PUBLIC_RENTAL_HOUSING/applications",
                                                   headers=filer, json=body, timeout=300), range(args.filings)))
    with standalone_session(settings.database_url) as session:
        made = session.query(Application).filter(Application.request_id == "trial-filing-1").count()
    report(f"{args.filings} identical filings at once: errors, applications made",
           f"{sum(r.status_code >= 300 for r in filed)}, {made}",
           all(r.status_code < 300 for r in filed) and made == 1, failures)

    kill_workers(args, base, server, holder, resident, settings)


def kill_workers(args: argparse.Namespace, base: str, server: subprocess.Popen[bytes], holder: dict[str, str],
                 resident, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{base}/api/v1/me/consents", headers=holder, json={
        "matter": "PUBLIC_RENTAL_HOUSING", "proofs": ["HOUSEHOLD_REGISTRATION"], "department": "ZJ", "days": 30})
    puller = {"Authorization": f"Bearer {token(settings, 'ZJ', ClientScope.EXCHANGE_REQUEST)}"}
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
                pass

    threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for _ in range(args.kill_rounds):
        time.sleep(1.0)
        workers = child_pids(server.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)


def token(settings: Settings, department: str, scope: str) -> str:
    with standalone_session(settings.database_url) as session:
        _, secret = register_client(session, read_live_catalog(session), department, "并发试验系统", [scope])
    return secret


def child_pids(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                children.append(int(entry.name))
    return children


def report(what: str, figure: str, ok: bool, failures: list[str]) -> None:
    print(f"{'ok  ' if ok else 'FAIL'}  {what}: {figure}", flush=True)
    if not ok:
        failures.append(what)


if __name__ == "__main__":
    main()
