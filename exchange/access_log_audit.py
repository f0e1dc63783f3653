"""The access-log check for a long log: its sequence range cut into one segment per process.

Each process checks its segment on a connection of its own (`access_log.check_segment`): every
entry's content against its hash and every link inside the segment. The segments are then
joined in order (`access_log.join_segments`): each one's first entry must link to the last entry
of the one before. The verdict — intact, or the first bad entry and why — is the one
`verify_chain` reaches walking the chain from its first entry in one process.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from multiprocessing import get_context

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from exchange.access_log import (AccessRecord, ChainHead, ChainVerdict, SegmentCheck, check_segment, join_segments,
                                 segment_bounds, verify_chain)

PARALLEL_FROM = 100_000
"""Fewer entries are checked in one process: starting the others would cost more than it saves."""


def verify_chain_in_processes(database_url: str, *, expected_head: ChainHead | None = None,
                              processes: int | None = None, parallel_from: int = PARALLEL_FROM) -> ChainVerdict:
    """`verify_chain` on the database at `database_url`, in `processes` processes (default: one
    per CPU this process may use) when the log has at least `parallel_from` entries."""
    processes = processes or len(os.sched_getaffinity(0))
    engine = create_engine(database_url, poolclass=NullPool, hide_parameters=True)
    try:
        with Session(engine) as session:
            last = session.scalar(select(func.max(AccessRecord.seq)))
            if processes == 1 or (last or 0) < parallel_from:
                return verify_chain(session, expected_head=expected_head)
    finally:
        engine.dispose()
    bounds = segment_bounds(last, processes)
    # fork: the workers start at once, with everything imported; each opens its own connection
    with ProcessPoolExecutor(len(bounds), mp_context=get_context("fork")) as pool:
        checks = list(pool.map(_check, repeat(database_url), bounds, repeat(expected_head)))
    return join_segments(checks, expected_head)


def _check(database_url: str, bounds: tuple[int, int], expected_head: ChainHead | None) -> SegmentCheck:
    engine = create_engine(database_url, poolclass=NullPool, hide_parameters=True)
    try:
        with engine.connect() as connection:
            return check_segment(connection, *bounds, expected_head)
    finally:
        engine.dispose()
