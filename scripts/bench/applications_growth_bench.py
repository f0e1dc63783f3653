"""公租房 applications as the case files grow: the same applications, served and driven by wrk
at one client, on a fresh installation and on one holding `--applications` earlier ones.

    python scripts/bench/applications_growth_bench.py [--applications 200000] [--seconds 5]
                                                      [--rounds 3] [--database-url URL --var-dir DIR]

Two demo installations in a temporary folder: a fresh one (SQLite), and one grown (SQLite; or
`--database-url`, an empty database, with `--var-dir` for its files). Each is served in turn as
`mianzheng serve` serves it (gunicorn, 2 workers) and files each demo household's application
once; the grown one's are then copied (`demo.case_files`: every application with its items,
case, commitments and consents, under keys of nobody filing now) up to `--applications`, and
PostgreSQL's statistics gathered as autovacuum would. Then, in alternate rounds, wrk files new
applications (applications_bench.py's bodies, each with its own request id and case number) on
each for `--seconds`, and then reads the public statistics (`GET /api/v1/statistics`) as long.
The point is the median of the rounds' ratios grown / fresh of the p50 of each (flat means at
most 1.5). Grow a throwaway database only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from api.settings import Settings
from api.initialise import initialise
from applications_bench import _prepare
from demo.applications import PUBLIC_RENTAL_HOUSING
from demo.case_files import copy_applications
from exchange.applications.records import Application, ApplicationItem
from served import (Load, free_port, fresh_and_grown, growth_arguments, json_posts_lua, require_wrk, serve, wait_ready,
                    wrk_load)

APPLICATIONS_PATH = f"/api/v1/matters/{PUBLIC_RENTAL_HOUSING}/applications"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applications", type=int, default=200_000)
    growth_arguments(parser)
    args = parser.parse_args()
    require_wrk()
    with tempfile.TemporaryDirectory(prefix="mianzheng-case-files-") as folder:
        fresh, grown = fresh_and_grown(Path(folder), args)
        installations = []
        for settings in (fresh, grown):
            initialise(settings)
            token, bodies = _prepare(settings)
            _serving(settings, lambda base: _file_each(base, token, bodies))
            installations.append((settings, token, bodies))
        print(_grow(grown, args.applications), flush=True)
        rounds: list[list[tuple[Load, Load]]] = []
        for _ in range(args.rounds):  # alternately, so a change in the machine's load moves both alike
            rounds.append([_serving(settings, lambda base: (_applications(base, token, bodies, args.seconds),
                                                            _statistics(base, args.seconds)))
                           for settings, token, bodies in installations])
        for measure, (what, unit) in enumerate((("公租房 application", "applications/s"),
                                                 ("public statistics", "answers/s"))):
            for column, (name, settings) in enumerate((("fresh", fresh), ("grown", grown))):
                loads = [measured[column][measure] for measured in rounds]
                print(f"{what}, {name} ({_size(settings)}): {statistics.median(load.rate for load in loads):.1f} "
                      f"{unit}, p50 {statistics.median(load.p50 for load in loads):.1f} ms, "
                      f"p99 {statistics.median(load.p99 for load in loads):.1f} ms")
            ratios = [measured[1][measure].p50 / measured[0][measure].p50 for measured in rounds]
            print(f"{what} p50 at 1 client, grown / fresh: median {statistics.median(ratios):.2f} "
                  f"(rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})")


def _serving(settings: Settings, work: Any) -> Any:
    """`work(base)` against the installation served for it."""
    port = free_port()
    server = serve(settings.var_dir, settings.database_url, port, 2)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        return work(base)
    finally:
        server.terminate()
        server.wait(timeout=60)


def _file_each(base: str, token: str, bodies: list[dict[str, Any]]) -> None:
    """Each household's application, once: what the grown installation's copies are made of."""
    for number, body in enumerate(bodies):
        filed = httpx.post(f"{base}{APPLICATIONS_PATH}", headers={"Authorization": f"Bearer {token}"}, timeout=60,
                           json={**body, "request_id": f"seed-{number:012d}", "case_number": f"GZF-SEED-{number:012d}"})
        if filed.status_code not in (201, 202):
            raise SystemExit(f"filing a seed application failed: HTTP {filed.status_code} {filed.text[:300]}")


def _applications(base: str, token: str, bodies: list[dict[str, Any]], seconds: float) -> Load:
    """New applications at one client, after a warm-up: each run of wrk with a script of its own,
    or the second would repeat the first's request ids and be answered from the store."""
    wrk_load(f"{base}{APPLICATIONS_PATH}", 1, 2, json_posts_lua(token, bodies, own_case_numbers=True))
    return wrk_load(f"{base}{APPLICATIONS_PATH}", 1, seconds, json_posts_lua(token, bodies, own_case_numbers=True))


def _statistics(base: str, seconds: float) -> Load:
    """The public statistics read at one client, after a warm-up."""
    wrk_load(f"{base}/api/v1/statistics", 1, 2)
    return wrk_load(f"{base}/api/v1/statistics", 1, seconds)


def _grow(settings: Settings, applications: int) -> str:
    """Copy what the installation holds up to `applications`; what it took."""
    engine = create_engine(settings.database_url)
    started = time.perf_counter()
    with engine.begin() as connection:
        held = connection.scalar(select(func.count()).select_from(Application)) or 1
        copy_applications(connection, max(1, applications // held - 1))
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    engine.dispose()
    return f"grown in {time.perf_counter() - started:.0f} s"


def _size(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        held = (connection.scalar(select(func.count()).select_from(Application)) or 0,
                connection.scalar(select(func.count()).select_from(ApplicationItem)) or 0)
    engine.dispose()
    return f"{held[0]:,} applications, {held[1]:,} proof items"


if __name__ == "__main__":
    main()
