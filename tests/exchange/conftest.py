"""Fixtures of the exchange's service tests: sessions on the test database (both engines),
the live catalog, the installation's subject hash key, and the context a pull runs in."""

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
from exchange.keyring import Keyring, Purpose
from exchange.pull_service import PullContext
from exchange.sources.directory import build_sources


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
