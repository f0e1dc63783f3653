"""The sharing rules as a matrix: every (consumer department, matter, proof) the catalog does
not allow is refused as forbidden-by-policy before any pull, and every refusal is logged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.seal_config import seal_settings
from api.settings import Settings
from catalog.model import Catalog, Subject
from exchange.access_log import AccessRecord, Outcome
from exchange.clients import AuthenticatedClient, ClientScope
from exchange.keyring import Keyring, Purpose
from exchange.pull_service import Envelope, PullContext, PullRefused, answer_request
from exchange.sources.directory import build_sources

PERSON = "11010519491231002X"
ORGANISATION = "91110000101623741K"


@pytest.fixture
def context(settings: Settings, sessions: sessionmaker[Session], live: Catalog, hash_key: bytes) -> Iterator[PullContext]:
    sources = build_sources(live, settings.sources_dir, None)
    yield PullContext(sessions=sessions, catalog=live, sources=sources, subject_hash_key=hash_key,
                      answers=Keyring({0: hash_key}).cipher(Purpose.EXCHANGE_ANSWERS), seal_settings=seal_settings(settings),
                      exchange_department=settings.exchange_department)
    sources.close()


def test_every_combination_the_catalog_does_not_allow_is_refused_and_logged(context: PullContext) -> None:
    catalog = context.catalog
    refused = 0
    for department in catalog.departments:
        client = AuthenticatedClient(f"client-{department.lower()}", department, "测试系统",
                                     frozenset({ClientScope.EXCHANGE_REQUEST}))
        for matter in catalog.matters.values():
            for proof in catalog.proofs.values():
                if catalog.may_request(department, matter.code, proof.code):
                    continue
                organisation = proof.subject is Subject.ORGANISATION
                envelope = Envelope(
                    request_id=f"{department}-{matter.code}-{proof.code}", caseworker_id="cw-1", case_number="C-1",
                    matter=matter.code, proof=proof.code, purpose="测试",
                    subject_id_number=None if organisation else PERSON,
                    subject_uscc=ORGANISATION if organisation else None)
                with pytest.raises(PullRefused) as refusal:
                    answer_request(context, client, envelope)
                assert refusal.value.kind == "forbidden-by-policy", (department, matter.code, proof.code)
                refused += 1
    assert refused > 5000
    with context.sessions() as session:
        logged = session.scalar(select(func.count()).select_from(AccessRecord).where(
            AccessRecord.outcome == Outcome.DENIED, AccessRecord.reason == "forbidden-by-policy"))
    assert logged == refused
