"""A holder's `Idempotency-Key` issues one certificate, even when the process issuing it dies.

A process that dies as soon as the certificate is stored runs nothing more: no release, no
later step. The holder's retry, once the key's reservation has gone stale, gets that certificate
back, not a second one with a second serial and status entry."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api.certificate_services import build_issuance_context
from api.runtime import Runtime
from api.settings import Settings
from demo.data import DemoResident, sample_residents
from exchange.answer_store import STALE_AFTER
from exchange.certificate_records import IssuedCertificate
from exchange.issuance import IssuanceContext, issue_certificate

KEY, PURPOSE = "portal-form-crash-1", "申请公租房"

_DIES_AFTER_STORING = """
import os, sys
from contextlib import contextmanager
from pathlib import Path
from api.certificate_services import build_issuance_context
from api.runtime import Runtime
from api.settings import Settings
from exchange import issuance
from exchange.unit_of_work import UnitOfWork

var_dir, database_url, name, id_number, key, purpose = sys.argv[1:]
step = UnitOfWork.step

@contextmanager
def dies_after_store(self, name):
    with step(self, name) as session:
        yield session
    if name == "store":  # committed: the process dies before anything else runs
        os._exit(9)

UnitOfWork.step = dies_after_store
current = Runtime.start(Settings(var_dir=Path(var_dir), database_url=database_url,
                                 public_url="http://127.0.0.1:8000", dev_idp=True))
context = build_issuance_context(current, *current.published_catalog())
issuance.issue_certificate(context, name, id_number, "NO_HOUSING", purpose, idempotency_key=key)
"""


@pytest.fixture
def context(settings: Settings) -> Iterator[IssuanceContext]:
    current = Runtime.start(settings)
    yield build_issuance_context(current, *current.published_catalog())
    current.engine.dispose()


def _certificates(context: IssuanceContext) -> list[str]:
    with context.sessions() as session:
        return list(session.scalars(select(IssuedCertificate.identifier)))


def test_a_retry_after_the_process_died_returns_the_certificate_it_stored(
        context: IssuanceContext, settings: Settings) -> None:
    person: DemoResident = sample_residents(settings.sources_dir, 1)[0]
    died = subprocess.run([sys.executable, "-c", _DIES_AFTER_STORING, str(settings.var_dir), settings.database_url,
                           person.name, person.id_number, KEY, PURPOSE],
                          cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=120)
    assert died.returncode == 9, died.stderr
    [stored] = _certificates(context)

    later = replace(context, clock=lambda: context.clock() + STALE_AFTER + timedelta(seconds=1))
    retried = issue_certificate(later, person.name, person.id_number, "NO_HOUSING", PURPOSE, idempotency_key=KEY)
    assert retried.identifier == stored
    assert _certificates(context) == [stored]  # one certificate, however the first attempt ended
