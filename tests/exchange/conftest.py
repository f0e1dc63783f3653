"""Fixtures of the exchange's service tests: sessions on the test database (both engines),
the live catalog, the installation's subject hash key, the context a pull runs in, and a demo
resident's 无房证明 request for the housing bureau, with the resident's consent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.database import make_engine, make_session_factory
from api.seal_config import seal_settings
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.model import Catalog
from catalog.versions import read_live_catalog
from demo.data import DemoResident, sample_residents
from exchange.clients import AuthenticatedClient, ClientScope
from exchange.consent import Channel, ConsentRequest, grant_consent
from exchange.keyring import Keyring, Purpose
from exchange.pull_service import Envelope, PullContext
from exchange.sources.directory import build_sources
from exchange.subjects import subject_key

MATTER, PROOF = "PUBLIC_RENTAL_HOUSING", "NO_HOUSING"
CLIENT = AuthenticatedClient("client-zj", "ZJ", "公租房审批系统", frozenset({ClientScope.EXCHANGE_REQUEST}))
"""The housing bureau's system (not registered: the pull service takes it as authenticated)."""


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as opened:
        yield opened


@pytest.fixture
def live(session: Session) -> Catalog:
    return read_live_catalog(session)


@pytest.fixture
def hash_key(settings: Settings) -> bytes:
    return read_secret(settings, SUBJECT_HASH_KEY)


@pytest.fixture
def pull_context(settings: Settings, sessions: sessionmaker[Session], live: Catalog,
                 hash_key: bytes) -> Iterator[PullContext]:
    """The context of the exchange's pulls, on the demo sources."""
    sources = build_sources(live, settings.sources_dir, None)
    yield PullContext(sessions=sessions, catalog=live, sources=sources, subject_hash_key=hash_key,
                      answers=Keyring({0: hash_key}).cipher(Purpose.EXCHANGE_ANSWERS),
                      seal_settings=seal_settings(settings), exchange_department=settings.exchange_department)
    sources.close()


@pytest.fixture
def person(settings: Settings) -> DemoResident:
    return sample_residents(settings.sources_dir, 1)[0]


def consented_envelope(context: PullContext, person: DemoResident, request_id: str) -> Envelope:
    """The housing bureau's request for `person`'s 无房证明, on a consent granted now."""
    with context.sessions.begin() as session:
        consent = grant_consent(session, context.catalog, subject_key(context.subject_hash_key, person.id_number),
                                ConsentRequest(MATTER, [PROOF], "ZJ", 30), channel=Channel.ONLINE)
        consent_id = consent.id
    return Envelope(request_id=request_id, caseworker_id="zj-0042", case_number="GZF-2026-000123", matter=MATTER,
                    proof=PROOF, purpose="公租房资格审核", subject_name=person.name,
                    subject_id_number=person.id_number, consent_id=consent_id)
