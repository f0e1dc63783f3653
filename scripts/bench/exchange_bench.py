"""Exchange requests per second and p50/p99 latency at 1, 8 and 32 concurrent clients,
against the served app (gunicorn, as `mianzheng serve` runs it), next to a trivial endpoint
(`/healthz`) of the same app measured by the same load generator (wrk) in the same run.

    python scripts/bench/exchange_bench.py [--seconds 5] [--workers 2] [--database-url URL]

A fresh installation is initialised in a temporary folder (SQLite unless --database-url);
every exchange request pulls NO_HOUSING for a different demo resident who consented, with a
new request id, so each one is a real pull, consent check, signed receipt and log append.
The load generator shares the machine with the server, so compare the ratio, not the rates.
"""

from __future__ import annotations

from pathlib import Path

from api.database import standalone_session
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.versions import read_live_catalog
from exchange.clients import ClientScope, register_client
from exchange.consent import Channel, ConsentRequest, grant_consent
from exchange.sources.records import department_database
from demo.data import sample_residents
from exchange.subjects import subject_key
from served import Load, json_posts_lua, served_installation, wrk_load

CONCURRENCY = (1, 8, 32)
RESIDENTS = 400


def main() -> None:
    with served_installation(__doc__.splitlines()[0]) as (args, settings, base):
        token, people = prepare_exchange(settings)
        print(f"{'clients':>7}  {'endpoint':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   ratio")
        for clients in CONCURRENCY:
            trivial = wrk_load(f"{base}/healthz", clients, args.seconds)
            exchange = wrk_load(f"{base}{EXCHANGE_PATH}", clients, args.seconds, exchange_request_lua(token, people))
            _print_row(clients, "GET /healthz", trivial, "")
            _print_row(clients, f"POST {EXCHANGE_PATH}", exchange, f"{exchange.rate / trivial.rate:6.3f}")


EXCHANGE_PATH = "/api/v1/exchange/requests"
EXCHANGE_DEPARTMENT, EXCHANGE_MATTER, EXCHANGE_PROOF = "ZJ", "PUBLIC_RENTAL_HOUSING", "NO_HOUSING"
"""Who asks, in which matter, for which proof."""


def _print_row(clients: int, name: str, result: Load, ratio: str) -> None:
    print(f"{clients:>7}  {name:<26} {result.rate:>8.0f} {result.p50:>8.1f} {result.p99:>8.1f}   {ratio}")


def prepare_exchange(settings: Settings) -> tuple[str, list[tuple[str, str]]]:
    """A client token for the housing bureau, and demo residents who consented."""
    hash_key = read_secret(settings, SUBJECT_HASH_KEY)
    residents = sample_residents(settings.sources_dir, RESIDENTS)
    with standalone_session(settings.database_url) as session:
        catalog = read_live_catalog(session)
        _, token = register_client(session, catalog, EXCHANGE_DEPARTMENT, "压测系统", [ClientScope.EXCHANGE_REQUEST])
        for person in residents:
            grant_consent(session, catalog, subject_key(hash_key, person.id_number),
                          ConsentRequest(EXCHANGE_MATTER, [EXCHANGE_PROOF], EXCHANGE_DEPARTMENT, 30),
                          channel=Channel.ONLINE)
    return token, [(person.name, person.id_number) for person in residents]


def exchange_source(settings: Settings) -> Path:
    """The records database of the department the exchange requests pull from."""
    with standalone_session(settings.database_url) as session:
        department = read_live_catalog(session).proofs[EXCHANGE_PROOF].department
    return department_database(settings.sources_dir, department)


def exchange_request_lua(token: str, people: list[tuple[str, str]]) -> str:
    """A wrk script posting one exchange request per call for the next consenting resident, each
    with a request id of its own (`json_posts_lua`: make one for each run of wrk)."""
    common = {"caseworker_id": "bench", "matter": EXCHANGE_MATTER, "proof": EXCHANGE_PROOF, "purpose": "压测"}
    return json_posts_lua(token, [{"case_number": f"B-{n}", **common, "subject": {"id_number": id_number, "name": name}}
                                  for n, (name, id_number) in enumerate(people)])


if __name__ == "__main__":
    main()
