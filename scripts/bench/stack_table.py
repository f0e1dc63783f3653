"""The speed table: each measure next to its raw baseline measured in the same run, as medians of
per-round ratios, printed in Markdown.

    python scripts/bench/stack_table.py [--rounds 3] [--seconds 3] [--postgres-url URL]
                                        [--audit-entries 1000000] [--profile] [--rows exchange,audit,startup]

Rows (every served row drives gunicorn, as `mianzheng serve` runs it, with wrk):
- signed exchange answers/s at 1, 8 and 32 clients (and p99 at 8) vs `GET /healthz` of the same app;
- `mianzheng audit verify` (the command, one process per CPU on a long log) entries/s vs a plain
  DB-API cursor + hashlib over the same rows in one process, and the command's peak memory per
  process (audit_bench.py: this row alone, on a log of any length);
- server memory (RSS and PSS summed over gunicorn's process tree: arbiter, 2 workers, the jobs
  process; and per process) vs a minimal Flask app served by gunicorn with 2 workers, and vs the
  chosen stack loaded (`STACK_APP`: SQLAlchemy, marshmallow, cryptography, preloaded), after the
  exchange row's load (or, as the row `memory` alone, after a few seconds of exchange requests
  and `/healthz` at 8 clients);
- warm `scripts/serve` to its first `/healthz` vs the minimal Flask app's gunicorn to its first answer.
Each runs on SQLite, and on PostgreSQL too when --postgres-url names an empty database (it is
filled). Certificate issuance and verification rows: certificates_bench.py; 公租房 decisions:
applications_bench.py.

--profile prints the top functions (cProfile, cumulative time) of the in-process rows (audit
verify: its per-entry work, in one process); for the served rows, profile a worker with
`py-spy top --pid PID` while the row runs.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.orm import Session

from api.initialise import initialise
from api.settings import Settings
from exchange.access_log import ENTRY_FIELDS, GENESIS_HASH, AccessRecord, entry_hash, verify_chain
from exchange_bench import (EXCHANGE_DEPARTMENT, EXCHANGE_MATTER, EXCHANGE_PATH, exchange_request_lua, exchange_source,
                            prepare_exchange)
from exchange_floor import prepare_floor
from served import free_port, require_wrk, serve, wait_ready, wrk_load

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = (1, 8, 32)
MINIMAL_APP = '''from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
'''
STACK_APP = '''import gc

import marshmallow  # noqa: F401
import sqlalchemy.orm  # noqa: F401
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import create_engine, text

engine = create_engine("sqlite:///stack.db")
key = ec.generate_private_key(ec.SECP256R1())
app = Flask(__name__)


@app.get("/healthz")
def healthz():
    with engine.connect() as connection:
        connection.execute(text("SELECT 1")).scalar()
    key.sign(b"ok", ec.ECDSA(hashes.SHA256()))
    return {"status": "ok"}


gc.freeze()
'''
"""The memory row's second baseline: the chosen stack loaded (Flask, SQLAlchemy's ORM, marshmallow,
cryptography), one SQL read and one ECDSA signature per request, preloaded with frozen objects as
`mianzheng serve` preloads: what the libraries alone hold before any of our code."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="per load measurement")
    parser.add_argument("--postgres-url", default=None, help="an empty PostgreSQL database to fill")
    parser.add_argument("--audit-entries", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions of in-process rows")
    parser.add_argument("--rows", default="exchange,audit,startup", help="which rows, comma-separated: exchange (with the "
                        "server memory measured after its load), audit, startup, memory (alone)")
    args = parser.parse_args()
    require_wrk()
    print("| measure | mianzheng | raw baseline in the same run | ratio (median of rounds) |")
    print("|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="mianzheng-table-") as folder:
        minimal = Path(folder) / "minimal"
        minimal.mkdir()
        (minimal / "minimal_app.py").write_text(MINIMAL_APP)
        (minimal / "stack_app.py").write_text(STACK_APP)
        databases = [("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}")]
        if args.postgres_url:
            databases.append(("PostgreSQL", args.postgres_url))
        for name, url in databases:
            # demo mode, as `scripts/serve` runs on SQLite: the exchange rows ask the demo departments
            os.environ["MIANZHENG_DEV_IDP"] = "1"
            settings = Settings(var_dir=Path(folder) / name / "var", database_url=url, public_url="http://127.0.0.1:8000",
                                dev_idp=True)
            initialise(settings)
            for row in args.rows.split(","):
                print("\n".join(ROWS[row](name, settings, minimal, args)), flush=True)


def exchange_rows(database: str, settings: Settings, minimal: Path, args: argparse.Namespace) -> list[str]:
    """Exchange answers/s vs /healthz per client count, and vs the floor (the same work through the
    raw stack alone: exchange_floor.py); server memory vs the minimal app."""
    port, floor_port = free_port(), free_port()
    base, floor_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
    token, people = prepare_exchange(settings)
    floor_env = prepare_floor(minimal, settings.database_url, token, EXCHANGE_DEPARTMENT, [i for _, i in people],
                              EXCHANGE_MATTER, exchange_source(settings))
    server = serve(settings.var_dir, settings.database_url, port, 2)
    floor = subprocess.Popen(_minimal_command(floor_port, "floor_app:app"), cwd=minimal, env={**os.environ, **floor_env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with _running(server, base), _running(floor, floor_base, probe=None):
        rounds: dict[int, list[tuple[float, float, float, float]]] = {clients: [] for clients in CLIENTS}
        for _ in range(args.rounds):
            for clients in CLIENTS:
                trivial = wrk_load(f"{base}/healthz", clients, args.seconds)
                exchange = wrk_load(f"{base}{EXCHANGE_PATH}", clients, args.seconds, exchange_request_lua(token, people))
                raw = wrk_load(f"{floor_base}{EXCHANGE_PATH}", clients, args.seconds, exchange_request_lua(token, people))
                rounds[clients].append((exchange.rate, trivial.rate, exchange.p99, raw.rate))
        ours_memory = _tree_memory(server.pid)  # `mianzheng serve` is gunicorn's arbiter
    baseline_memory = _minimal_memory(minimal)

    def column(value: Callable[[tuple[float, float, float, float]], float], form: str) -> str:
        return " / ".join(format(statistics.median(value(r) for r in rounds[c]), form) for c in CLIENTS)

    p99 = statistics.median(r[2] for r in rounds[8])
    return [
        f"| signed exchange answers/s, {database}, 1 / 8 / 32 clients | {column(lambda r: r[0], ',.0f')} per s; p99 "
        f"at 8 clients {p99:.0f} ms | `/healthz` {column(lambda r: r[1], ',.0f')} per s | "
        f"{column(lambda r: r[0] / r[1], '.3f')} |",
        f"| the floor: the same reads, writes and cryptography through the raw stack, {database} | "
        f"{column(lambda r: r[0], ',.0f')} per s | floor {column(lambda r: r[3], ',.0f')} per s "
        f"(itself {column(lambda r: r[3] / r[1], '.2f')} of `/healthz`) | {column(lambda r: r[0] / r[3], '.2f')} |",
        _memory_row(database, ours_memory, baseline_memory, minimal),
    ]


def memory_rows(database: str, settings: Settings, minimal: Path, args: argparse.Namespace) -> list[str]:
    """Server memory vs the minimal app's, after `args.seconds` of exchange requests and of
    `/healthz` at 8 clients (every worker has served both)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token, people = prepare_exchange(settings)
    server = serve(settings.var_dir, settings.database_url, port, 2)
    with _running(server, base):
        wrk_load(f"{base}{EXCHANGE_PATH}", 8, args.seconds, exchange_request_lua(token, people))
        wrk_load(f"{base}/healthz", 8, args.seconds)
        ours_memory = _tree_memory(server.pid)
    return [_memory_row(database, ours_memory, _minimal_memory(minimal), minimal)]


def _memory_row(database: str, ours: Memory, baseline: Memory, minimal: Path) -> str:
    stack = _minimal_memory(minimal, "stack_app:app", "--preload")
    return (f"| server memory, 2 workers + jobs, {database} | {_memory_text(ours)} | minimal Flask app, 2 workers, "
            f"{_memory_text(baseline)}; the stack loaded (`STACK_APP`: SQLAlchemy, marshmallow, cryptography, "
            f"preloaded), 2 workers, {_memory_text(stack)} | {_total(ours, 0) / _total(baseline, 0):.1f}× "
            f"(PSS {_total(ours, 1) / _total(baseline, 1):.1f}×); the stack loaded is itself "
            f"{_total(stack, 0) / _total(baseline, 0):.1f}× (PSS {_total(stack, 1) / _total(baseline, 1):.1f}×) |")


def audit_rows(database: str, settings: Settings, args: argparse.Namespace) -> list[str]:
    """`mianzheng audit verify` (the command, in its own process tree) entries/s vs a plain cursor +
    hashlib in one process, and the command's peak memory per process."""
    engine = create_engine(settings.database_url)
    entries = fill_access_log(engine, args.audit_entries)
    ours, raw, peaks = [], [], []
    for _ in range(args.rounds):
        elapsed, peak = cli_run(settings, ["audit", "verify"])
        ours.append(entries / elapsed)
        peaks.append(peak)
        raw.append(_rate(lambda: _raw_chain(engine), entries, False))
    if args.profile:  # the per-entry work of one process; the command splits the same work across CPUs
        _rate(lambda: _verify(engine), entries, True)
    engine.dispose()
    ratio = statistics.median(o / r for o, r in zip(ours, raw))
    return [f"| `mianzheng audit verify`, {entries:,} entries, {database} | "
            f"{statistics.median(ours):,.0f} entries/s; peak RSS {max(peaks) / 2**20:.0f} MB per process | plain "
            f"cursor + hashlib, one process, {statistics.median(raw):,.0f}/s | {ratio:.2f} |"]


def startup_rows(database: str, settings: Settings, minimal: Path, args: argparse.Namespace) -> list[str]:
    """Warm `scripts/serve` to its first /healthz vs the minimal Flask app under gunicorn."""
    env = {**os.environ, "MIANZHENG_VAR_DIR": str(settings.var_dir), "MIANZHENG_DATABASE_URL": settings.database_url}
    ours, raw = [], []
    warm = free_port()
    _time_to_healthz([str(ROOT / "scripts" / "serve"), "--port", str(warm)], warm, env, ROOT)  # warm-up, not counted
    for _ in range(args.rounds):
        port = free_port()
        ours.append(_time_to_healthz([str(ROOT / "scripts" / "serve"), "--port", str(port)], port, env, ROOT))
        port = free_port()
        raw.append(_time_to_healthz(_minimal_command(port), port, os.environ.copy(), minimal))
    ratio = statistics.median(o / r for o, r in zip(ours, raw))
    return [f"| warm `scripts/serve` to first `/healthz`, {database} | {statistics.median(ours):.2f} s | minimal "
            f"Flask + gunicorn {statistics.median(raw):.2f} s | {ratio:.1f}× |"]


def fill_access_log(engine, entries: int, batch: int = 10_000) -> int:  # type: ignore[no-untyped-def]
    """Append chained entries after the current head (hashes as the log makes them), in batches,
    until the log holds at least `entries`; returns how many it holds."""
    with engine.begin() as connection:
        head = connection.execute(text("SELECT seq, entry_hash FROM access_log ORDER BY seq DESC LIMIT 1")).first()
        seq, previous = (head[0], head[1]) if head else (0, GENESIS_HASH)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        rows = []
        for n in range(seq + 1, entries + 1):
            at = start + timedelta(milliseconds=n)
            values = {"outcome": "allowed", "reason": None, "request_id": f"bench-{n}", "client_id": "0123456789abcdef",
                      "consumer_department": "ZJ", "caseworker_id": "zj-0042", "case_number": f"GZF-{n}",
                      "matter": "PUBLIC_RENTAL_HOUSING", "proof": "NO_HOUSING",
                      "subject_key": hashlib.sha256(str(n % 100_000).encode()).hexdigest(),
                      "legal_basis": "《公共租赁住房管理办法》", "consent_id": None, "purpose": "公租房资格审核"}
            digest = entry_hash(previous, n, at, values)
            rows.append({"seq": n, "recorded_at": at, "prev_hash": previous, "entry_hash": digest, **values})
            previous = digest
            if len(rows) == batch:
                connection.execute(insert(AccessRecord), rows)
                rows = []
        if rows:
            connection.execute(insert(AccessRecord), rows)
    return max(seq, entries)


def _verify(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        assert verify_chain(session).intact


def _raw_chain(engine) -> None:  # type: ignore[no-untyped-def]
    """The floor: every column of every entry through the driver's cursor, in batches, hashed."""
    columns = ", ".join(("seq", "recorded_at", "prev_hash", "entry_hash", *ENTRY_FIELDS))
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor(name="raw") if engine.dialect.name == "postgresql" else connection.cursor()
        cursor.execute(f"SELECT {columns} FROM access_log ORDER BY seq")
        sha256 = hashlib.sha256
        while batch := cursor.fetchmany(10_000):
            for row in batch:
                sha256("|".join(map(str, row)).encode()).hexdigest()
        cursor.close()
        connection.rollback()
    finally:
        connection.close()


def _rate(operation: Callable[[], None], entries: int, profile: bool) -> float:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.runcall(operation)
    else:
        operation()
    elapsed = time.perf_counter() - started
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(15)
    return entries / elapsed


_PEAK_OF_CHILD = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)"
                  ".returncode; print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
"""Runs a command and prints its peak RSS (KiB, the largest of its processes). A process keeps the
peak of the one it was forked from across exec, so the command is started from this small one."""


def cli_run(settings: Settings, command: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak resident memory (bytes, of the largest of its processes) of one
    `mianzheng` command."""
    env = {**os.environ, "MIANZHENG_VAR_DIR": str(settings.var_dir), "MIANZHENG_DATABASE_URL": settings.database_url}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _PEAK_OF_CHILD, str(Path(sys.executable).with_name("mianzheng")),
                             *command], env=env, stdout=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"mianzheng {' '.join(command)} exited with {result.returncode}")
    return elapsed, int(result.stdout.split()[-1]) * 1024


def _minimal_command(port: int, app: str = "minimal_app:app") -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", app]


def _minimal_memory(minimal: Path, app: str = "minimal_app:app", *options: str) -> Memory:
    port = free_port()
    process = subprocess.Popen([*_minimal_command(port, app), *options], cwd=minimal, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    with _running(process, base, probe="/healthz"):
        for _ in range(50):
            httpx.get(f"{base}/healthz")
        return _tree_memory(process.pid)


def _time_to_healthz(command: list[str], port: int, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                sys.exit(f"{command[0]} exited with {process.returncode} before answering")
            time.sleep(0.01)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """TERM, then KILL the whole session if it has not ended within a minute."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # started as a session of its own
        except ProcessLookupError:
            process.kill()
        process.wait()


@contextmanager
def _running(process: subprocess.Popen[bytes], base: str, probe: str | None = "/readyz") -> Iterator[None]:
    """`process` serving at `base`, ready once `probe` answers 200 (or, without a probe, once it
    accepts connections); stopped afterwards."""
    try:
        wait_ready(base, probe)
        yield
    finally:
        _stop(process)


Memory = list[tuple[int, int]]
"""(RSS, PSS) in bytes of each process of a tree, the root first."""


def _tree_memory(pid: int) -> Memory:
    """Resident (RSS) and proportional (PSS: shared pages divided among their processes) memory of
    `pid` and each of its descendants. RSS counts the pages a forked worker shares with the
    arbiter once per process; PSS counts them once in all."""
    found: Memory = []
    pending = [pid]
    while pending:
        current = pending.pop(0)
        rollup = Path(f"/proc/{current}/smaps_rollup").read_text().splitlines()
        found.append(tuple(next(int(line.split()[1]) * 1024 for line in rollup if line.startswith(field))
                           for field in ("Rss:", "Pss:")))  # type: ignore[arg-type]
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(child) for child in (task / "children").read_text().split()]
    return found


def _total(memory: Memory, column: int) -> int:
    return sum(process[column] for process in memory)


def _memory_text(memory: Memory) -> str:
    """Totals, then each process (root first) as RSS/PSS in MB."""
    each = ", ".join(f"{rss / 2**20:.0f}/{pss / 2**20:.0f}" for rss, pss in memory)
    return f"RSS {_total(memory, 0) / 2**20:.0f} MB, PSS {_total(memory, 1) / 2**20:.0f} MB (per process RSS/PSS: {each})"


ROWS: dict[str, Callable[[str, Settings, Path, argparse.Namespace], list[str]]] = {
    "exchange": exchange_rows,
    "audit": lambda database, settings, _minimal, args: audit_rows(database, settings, args),
    "memory": memory_rows,
    "startup": startup_rows,
}


if __name__ == "__main__":
    main()
