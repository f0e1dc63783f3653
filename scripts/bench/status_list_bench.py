"""Issuance time per certificate as the city's certificates grow to 1,000,000 over several status lists.

    python scripts/bench/status_list_bench.py [--database-url URL] [--sizes 0,131072,1000000]
                                              [--issuances 15] [--allocations 2000]

A fresh installation (`mianzheng init`'s set-up) on a temporary SQLite file, or on `--database-url`
(an empty database, e.g. a PostgreSQL one). At each size the certificates table is first filled up
to that many status entries — each allocated by `allocate_entry`, as an issuance allocates it, in
batches of one transaction, stored as a minimal certificate row (1 in 100 revoked) — then:

- `--allocations` status entries are allocated one per transaction (the `allocate` step alone);
- `--issuances` certificates are issued one after another through `issue_certificate` (pull from
  the source, allocate, render the PDF, seal, store), as a citizen's request does.

It prints, per size, the entries allocated by then (the filler, the allocations and issuances
measured so far), the lists opened, and the median and 90th percentile of both. Flat figures
across the sizes are the point: no step reads what was allocated before. The rows it adds are
filler, not certificates; run it on a throwaway database only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from api.certificate_services import build_issuance_context
from api.initialise import initialise
from api.runtime import Runtime
from api.settings import Settings
from exchange.certificate_records import CertificateStatus, IssuedCertificate
from exchange.counters import Counter
from exchange.issuance import issue_certificate
from demo.data import sample_residents
from exchange.status_lists import CERTIFICATES, StatusListRecord, allocate_entry
from exchange.unit_of_work import UnitOfWork

FILL_BATCH = 10_000
REVOKED_EVERY = 100
ENTRY_COUNTER = f"status-entry:{CERTIFICATES.first_list_id}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sizes", default="0,131072,1000000", help="entries stored before each measurement")
    parser.add_argument("--issuances", type=int, default=15)
    parser.add_argument("--allocations", type=int, default=2000)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="mianzheng-lists-") as folder:
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        # demo mode: init generates the demo source departments the issuances pull from
        settings = Settings(var_dir=Path(folder) / "var", database_url=database_url, public_url="http://127.0.0.1:8000",
                            dev_idp=True)
        initialise(settings)
        current = Runtime.start(settings)
        context = build_issuance_context(current, *current.published_catalog())
        [resident] = sample_residents(settings.sources_dir, 1)
        uow = UnitOfWork(current.sessions)
        print(f"database: {database_url.split('://')[0]}; list capacity {CERTIFICATES.entries_per_list:,}")
        print(f"{'entries':>10} {'lists':>6} {'fill s':>7} | {'allocate ms p50':>15} {'p90':>6} | "
              f"{'issue ms p50':>12} {'p90':>6}")
        for size in sizes:
            fill_started = time.perf_counter()
            fill_certificates(uow, size)
            fill_seconds = time.perf_counter() - fill_started
            allocations = [_timed(lambda: _allocate_one(uow)) for _ in range(args.allocations)]
            issuances = [_timed(lambda: issue_certificate(context, resident.name, resident.id_number,
                                                          "HOUSEHOLD_REGISTRATION", "性能测试"))
                         for _ in range(args.issuances)]
            with uow.read() as session:
                allocated = session.scalar(select(Counter.value).where(Counter.name == ENTRY_COUNTER))
                lists = session.scalar(select(func.count()).select_from(StatusListRecord)
                                       .where(StatusListRecord.kind == CERTIFICATES.name))
            print(f"{allocated:>10,} {lists:>6} {fill_seconds:>7.0f} | {_median(allocations):>15.2f} "
                  f"{_p90(allocations):>6.2f} | {_median(issuances):>12.1f} {_p90(issuances):>6.1f}", flush=True)
        current.engine.dispose()


def fill_certificates(uow: UnitOfWork, size: int) -> None:
    """Store filler certificates, each with an entry from `allocate_entry`, until `size` are stored."""
    with uow.read() as session:
        stored = session.scalar(select(func.count()).select_from(IssuedCertificate)) or 0
    issued_at = datetime.now(timezone.utc)
    while stored < size:
        batch = min(FILL_BATCH, size - stored)
        with uow.step("fill") as session:
            rows = []
            for number in range(stored, stored + batch):
                entry = allocate_entry(session, CERTIFICATES)
                revoked = number % REVOKED_EVERY == 0
                rows.append({
                    "identifier": f"bench-{number}", "proof_code": "BENCH", "issuer_department": "BENCH",
                    "serial": number, "holder_key": "bench", "purpose": "", "issued_at": issued_at,
                    "valid_until": issued_at + timedelta(days=30), "status_list": entry.list_id,
                    "status_index": entry.index,
                    "status": CertificateStatus.REVOKED if revoked else CertificateStatus.VALID,
                    "revoked_at": issued_at if revoked else None, "revocation_reason": "data_changed" if revoked else None})
            session.execute(insert(IssuedCertificate), rows)
        stored += batch


def _allocate_one(uow: UnitOfWork) -> None:
    with uow.step("allocate") as session:
        allocate_entry(session, CERTIFICATES)


def _timed(operation: object) -> float:
    started = time.perf_counter()
    operation()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else float("nan")


if __name__ == "__main__":
    main()
