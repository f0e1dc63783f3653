"""Status entries handed out by concurrent issuers, on SQLite and PostgreSQL: every (list, index) is
handed out once, each list is filled to its capacity before the next one opens, and each list is
opened once, under one number, however many issuers reach its first entry at the same time. The
capacity is set small (the kind as an installation can configure it) so the lists fill in turn."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from exchange.status_lists import CERTIFICATES, FIXED_LIST_IDS, ListEntry, StatusListRecord, allocate_entry, list_ids
from exchange.unit_of_work import UnitOfWork

CAPACITY = 3
ISSUERS = 8
ENTRIES = 40


def test_concurrent_issuers_fill_each_list_once_and_open_the_next(sessions: sessionmaker[Session]) -> None:
    small = replace(CERTIFICATES, capacity=CAPACITY)
    uow = UnitOfWork(sessions)

    def allocate(_number: int) -> ListEntry:
        with uow.step("allocate") as session:
            return allocate_entry(session, small)

    with ThreadPoolExecutor(ISSUERS) as pool:
        entries = list(pool.map(allocate, range(ENTRIES)))

    assert len({(entry.list_id, entry.index) for entry in entries}) == ENTRIES
    lists_needed = -(-ENTRIES // CAPACITY)
    filled = Counter(entry.list_id for entry in entries)
    assert sorted(filled.values()) == [ENTRIES % CAPACITY] + [CAPACITY] * (lists_needed - 1)
    assert sum(entry.opened for entry in entries) == lists_needed
    assert all(0 <= entry.index < CERTIFICATES.size for entry in entries)
    with sessions() as session:
        rows = session.execute(select(StatusListRecord.id, StatusListRecord.ordinal)
                               .where(StatusListRecord.kind == CERTIFICATES.name)).all()
        numbers = list_ids(session, CERTIFICATES)
    assert sorted(ordinal for _, ordinal in rows) == list(range(lists_needed))  # each opened once
    assert dict((ordinal, list_id) for list_id, ordinal in rows)[0] == CERTIFICATES.first_list_id
    assert sorted(list_id for list_id, _ in rows) == [1, *range(FIXED_LIST_IDS + 1, FIXED_LIST_IDS + lists_needed)]
    assert set(filled) == set(numbers) and numbers[0] == CERTIFICATES.first_list_id
