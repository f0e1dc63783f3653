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

import itertools
import os
import threading
import time
from collections.abc import Callable

import httpx

from api.database import standalone_session
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.clients import ClientScope, register_client
from exchange.consent import Channel, ConsentRequest, grant_consent
from exchange.sources.demo_data import sample_residents
from exchange.subjects import subject_key
from served import measure, served_installation

CONCURRENCY = (1, 8, 32)
RESIDENTS = 400


def main() -> None:
    with served_installation(__doc__.splitlines()[0]) as (args, settings, base):
        token, people = _prepare(settings)
        print(f"{'clients':>7}  {'endpoint':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   ratio")
        for clients in CONCURRENCY:
            trivial = measure(lambda c: c.get(f"{base}/healthz"), clients, args.seconds)
            request = _exchange_request(base, token, people)
            exchange = measure(request, clients, args.seconds)
            for name, result in (("GET /healthz", trivial), ("POST /exchange/requests", exchange)):
                ratio = f"{result.rate / trivial.rate:6.2f}" if name != "GET /healthz" else ""
                print(f"{clients:>7}  {name:<26} {result.rate:>8.0f} {result.p50:>8.1f} {result.p99:>8.1f}   {ratio}")


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


if __name__ == "__main__":
    main()
