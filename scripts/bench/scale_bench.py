"""The exchange as the city grows: the same requests on a fresh installation and on one grown to
a city's size, and `mianzheng audit verify` over the grown log.

    python scripts/bench/scale_bench.py [--residents 1000000] [--log-entries 10000000]
                                        [--certificates 1000000] [--seconds 5]
                                        [--database-url URL --var-dir DIR]

Two demo installations in a temporary folder: a fresh one (SQLite), and one grown (SQLite; or
`--database-url`, an empty database, with `--var-dir` for its files). The second grows:

- the demo source departments are generated again for `--residents` people
  (`mianzheng demo generate`: its time and peak memory are printed);
- the access log is filled with chained entries up to `--log-entries` (stack_table.py's filler);
- certificates are stored up to `--certificates`, each with a status entry allocated as issuance
  allocates it, over as many status lists as they need (status_list_bench.py's filler);

Then each is served in turn as `mianzheng serve` serves it (gunicorn, 2 workers) and driven by
wrk at 1 and 8 clients, each request a real pull of NO_HOUSING for a consenting demo resident
(exchange_bench.py), fresh then grown, `--rounds` times. Last, `mianzheng audit verify` checks
the grown log: entries/s and the peak memory of its largest process. The point is the median of
the rounds' ratios grown / fresh of the exchange's p50 (the goal: at most 1.5). The rows added are
filler; grow a throwaway database only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from api.initialise import initialise
from api.runtime import Runtime
from api.settings import Settings
from exchange.access_log import AccessRecord
from exchange.certificate_records import IssuedCertificate
from exchange.status_lists import CERTIFICATES, StatusListRecord
from exchange.unit_of_work import UnitOfWork
from exchange.sources.records import read_dataset
from exchange_bench import EXCHANGE_PATH, exchange_request_lua, exchange_source, prepare_exchange
from served import Load, free_port, fresh_and_grown, growth_arguments, require_wrk, serve, wait_ready, wrk_load
from stack_table import cli_run, fill_access_log
from status_list_bench import fill_certificates

CLIENTS = (1, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--log-entries", type=int, default=10_000_000)
    parser.add_argument("--certificates", type=int, default=1_000_000)
    growth_arguments(parser)
    args = parser.parse_args()
    require_wrk()
    with tempfile.TemporaryDirectory(prefix="mianzheng-scale-") as folder:
        fresh, grown = fresh_and_grown(Path(folder), args)
        for settings in (fresh, grown):
            initialise(settings)
        print(_grow(grown, args), flush=True)
        installations = [(fresh, prepare_exchange(fresh)), (grown, prepare_exchange(grown))]
        rounds: list[list[list[Load]]] = []
        for _ in range(args.rounds):  # alternately, so a change in the machine's load moves both alike
            rounds.append([_exchange(settings, exchange, args.seconds) for settings, exchange in installations])
        for name, settings, column in (("fresh", fresh, 0), ("grown", grown, 1)):
            loads = [[measured[column][n] for measured in rounds] for n in range(len(CLIENTS))]
            print(_row(name, _size(settings), loads))
        for n, clients in enumerate(CLIENTS):
            ratios = [measured[1][n].p50 / measured[0][n].p50 for measured in rounds]
            print(f"exchange p50 at {clients} client(s), grown / fresh: median {statistics.median(ratios):.2f} "
                  f"(rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})")
        seconds, peak = cli_run(grown, ["audit", "verify"])
        entries = _size(grown)["access log entries"]
        print(f"mianzheng audit verify: {entries:,} entries in {seconds:.1f} s, {entries / seconds:,.0f} entries/s, "
              f"peak RSS {peak / 2**20:.0f} MB (its largest process)")


def _exchange(settings: Settings, exchange: tuple[str, list[tuple[str, str]]], seconds: float) -> list[Load]:
    """The exchange's rate and latency at each client count, on a server started for it
    (`exchange`: the token and consenting residents of `prepare_exchange`)."""
    port = free_port()
    server = serve(settings.var_dir, settings.database_url, port, 2)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        wrk_load(f"{base}{EXCHANGE_PATH}", 2, 2, exchange_request_lua(*exchange))  # both workers warm
        return [wrk_load(f"{base}{EXCHANGE_PATH}", clients, seconds, exchange_request_lua(*exchange))
                for clients in CLIENTS]
    finally:
        server.terminate()
        server.wait(timeout=60)


def _grow(settings: Settings, args: argparse.Namespace) -> str:
    """Grow the installation to the city's size; what each step took."""
    took = []
    started = time.perf_counter()
    seconds, peak = cli_run(settings, ["demo", "generate", "--residents", str(args.residents)])
    took.append(f"demo generate --residents {args.residents:,}: {seconds:.0f} s, peak RSS {peak / 2**20:.0f} MB")
    engine = create_engine(settings.database_url)
    step = time.perf_counter()
    fill_access_log(engine, args.log_entries)
    took.append(f"access log to {args.log_entries:,}: {time.perf_counter() - step:.0f} s")
    engine.dispose()
    step = time.perf_counter()
    current = Runtime.start(settings)
    fill_certificates(UnitOfWork(current.sessions), args.certificates)
    current.engine.dispose()
    took.append(f"certificates to {args.certificates:,}: {time.perf_counter() - step:.0f} s")
    return f"grown in {time.perf_counter() - started:.0f} s (" + "; ".join(took) + ")"


def _size(settings: Settings) -> dict[str, int]:
    """What the installation holds: people in the demo sources, log entries, certificates, lists."""
    dataset = read_dataset(exchange_source(settings)) or {}
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        held = {"demo residents": int(dataset.get("residents", 0)),
                "access log entries": connection.scalar(select(func.count()).select_from(AccessRecord)) or 0,
                "certificates": connection.scalar(select(func.count()).select_from(IssuedCertificate)) or 0,
                "certificate status lists": connection.scalar(
                    select(func.count()).select_from(StatusListRecord).where(StatusListRecord.kind == CERTIFICATES.name))
                or 0}
    engine.dispose()
    return held


def _row(name: str, size: dict[str, int], loads: list[list[Load]]) -> str:
    """One installation's medians over the rounds, per client count."""
    held = ", ".join(f"{value:,} {key}" for key, value in size.items())
    measured = "; ".join(f"{clients} client(s): {statistics.median(load.rate for load in each):,.0f}/s, "
                         f"p50 {statistics.median(load.p50 for load in each):.1f} ms, "
                         f"p99 {statistics.median(load.p99 for load in each):.1f} ms"
                         for clients, each in zip(CLIENTS, loads))
    return f"{name} ({held}): {measured}"


if __name__ == "__main__":
    main()
