"""Exchange requests per second and p50/p99 latency at 1, 8 and 32 concurrent clients,
against the served app (gunicorn, as `mianzheng serve` runs it), next to a trivial endpoint
(`/healthz`) of the same app measured by the same load generator in the same run.

    python scripts/bench/exchange_bench.py [--seconds 5] [--workers 2] [--database-url URL]

A fresh installation is initialised in a temporary folder (SQLite unless --database-url);
every exchange request pulls NO_HOUSING for a different demo resident who consented, with a
new request id, so each one is a real pull, consent check, signed receipt and log append.
The load generator shares the machine with the server, so compare the ratio, not the rates.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.database import standalone_session
from api.initialise import initialise
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.clients import ClientScope, register_client
from exchange.consent import Channel, ConsentRequest, grant_consent
from exchange.sources.demo_data import sample_residents
from exchange.subjects import subject_key

CONCURRENCY = (1, 8, 32)
RESIDENTS = 400


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mianzheng-bench-") as folder:
        var_dir = Path(folder) / "var"
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        settings = Settings(var_dir=var_dir, database_url=database_url, public_url="http://127.0.0.1:8000")
        initialise(settings)
        token, people = _prepare(settings)
        port = _free_port()
        server = _serve(var_dir, database_url, port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base)
            print(f"{'clients':>7}  {'endpoint':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   ratio")
            for clients in CONCURRENCY:
                trivial = _measure(lambda c: c.get(f"{base}/healthz"), clients, args.seconds)
                request = _exchange_request(base, token, people)
                exchange = _measure(request, clients, args.seconds)
                for name, result in (("GET /healthz", trivial), ("POST /exchange/requests", exchange)):
                    ratio = f"{result.rate / trivial.rate:6.2f}" if name != "GET /healthz" else ""
                    print(f"{clients:>7}  {name:<26} {result.rate:>8.0f} {result.p50:>8.1f} {result.p99:>8.1f}   {ratio}")
        finally:
            server.terminate()
            server.wait(timeout=30)


def _prepare(settings: Settings) -> tuple[str, list[tuple[str, str]]]:
    """A client token for the housing bureau, and demo residents who consented."""
    hash_key = read_secret(settings, SUBJECT_HASH_KEY)
    residents = sample_residents(settings.sources_dir, RESIDENTS)
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
        _, token = register_client(session, catalog, "ZJ", "压测系统", [ClientScope.EXCHANGE_REQUEST])
        for person in residents:
            grant_consent(session, catalog, subject_key(hash_key, person.id_number),
                          ConsentRequest("PUBLIC_RENTAL_HOUSING", ["NO_HOUSING"], "ZJ", 30), channel=Channel.ONLINE)
    return token, [(person.name, person.id_number) for person in residents]


def _exchange_request(base: str, token: str, people: list[tuple[str, str]]) -> Callable[[httpx.Client], httpx.Response]:
    numbers = itertools.count()
    lock = threading.Lock()

    def send(client: httpx.Client) -> httpx.Response:
        with lock:
            n = next(numbers)
        name, id_number = people[n % len(people)]
        return client.post(f"{base}/api/v1/exchange/requests", headers={"Authorization": f"Bearer {token}"}, json={
            "request_id": f"bench-{os.getpid()}-{time.monotonic_ns()}-{n}", "caseworker_id": "bench",
            "case_number": f"B-{n}", "matter": "PUBLIC_RENTAL_HOUSING", "proof": "NO_HOUSING",
            "purpose": "压测", "subject": {"id_number": id_number, "name": name}})

    return send


class _Result:
    def __init__(self, latencies: list[float], elapsed: float) -> None:
        self.rate = len(latencies) / elapsed
        ordered = sorted(latencies)
        self.p50 = statistics.median(ordered) * 1000
        self.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _measure(send: Callable[[httpx.Client], httpx.Response], clients: int, seconds: float) -> _Result:
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = send(client)
                took = time.monotonic() - started
                with lock:
                    (latencies.append(took) if response.status_code == 200 else failures.append(response.status_code))

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return _Result(latencies, time.monotonic() - started)


def _serve(var_dir: Path, database_url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MIANZHENG_VAR_DIR": str(var_dir), "MIANZHENG_DATABASE_URL": database_url}
    mianzheng = str(Path(sys.executable).with_name("mianzheng"))
    return subprocess.Popen([mianzheng, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit("the server did not become ready")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
