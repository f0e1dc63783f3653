"""What the benchmarks share: the rate of an operation, and their command line."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second over at least `seconds`."""
    operation()  # warm up caches and lazy imports
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        operation()
        count += 1
    return count / elapsed


def paired_rates(ours: Callable[[], object], raw: Callable[[], object], seconds: float,
                 rounds: int = 3) -> tuple[float, float, float]:
    """Median rates of `ours` and `raw` and the median of their per-round ratios, the two measured
    alternately (`rounds` rounds of `seconds / rounds` each), so a change in the machine's load
    moves both sides of a ratio alike."""
    pairs = [(rate(ours, seconds / rounds), rate(raw, seconds / rounds)) for _ in range(rounds)]
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[0] / p[1] for p in pairs))


def seconds_per_measurement(description: str | None) -> float:
    """`--seconds` from the command line (default 2)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    return parser.parse_args().seconds
