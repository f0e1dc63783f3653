"""Generating the demo source databases at scale: residents per second and the process's peak
memory, for one or more city sizes, each in its own process so every peak is its own.

    python scripts/bench/demo_generation_bench.py [--residents 100000 --residents 1000000]

The generator is bounded by drawing people in Python, not by SQLite: there is no raw baseline
to divide by, so the figures to watch are residents per CPU second (wall time moves with the
machine's load) and that the peak does not grow with size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generate(residents: int) -> dict[str, float]:
    from catalog.loading import bundled_catalog_path, load_catalog
    from demo.data import generate_demo_sources

    catalog = load_catalog(bundled_catalog_path())
    with tempfile.TemporaryDirectory() as folder:
        start, cpu_start = time.perf_counter(), time.process_time()
        written = generate_demo_sources(Path(folder), catalog, residents=residents,
                                        snapshot_at=datetime(2026, 11, 1, tzinfo=timezone.utc))
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"residents": residents, "records": sum(written.values()), "seconds": seconds, "cpu_seconds": cpu_seconds,
            "peak_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, action="append", help="city size (repeatable)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(_generate(arguments.child)))
        return
    print(f"{'residents':>10} {'records':>10} {'seconds':>8} {'CPU s':>8} {'residents/CPU s':>16} {'peak MB':>8}")
    for residents in arguments.residents or [100_000]:
        output = subprocess.run([sys.executable, __file__, "--child", str(residents)], cwd=ROOT, check=True,
                                capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        row = json.loads(output.stdout)
        print(f"{row['residents']:>10,} {row['records']:>10,} {row['seconds']:>8.1f} {row['cpu_seconds']:>8.1f} "
              f"{row['residents'] / row['cpu_seconds']:>16,.0f} {row['peak_mb']:>8,.0f}")


if __name__ == "__main__":
    main()
