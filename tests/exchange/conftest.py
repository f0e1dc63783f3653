"""Fixtures of the exchange's service tests: sessions on the test database (both engines),
the live catalog, and the installation's subject hash key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.database import make_engine, make_session_factory
from api.secrets import SUBJECT_HASH_KEY, read_secret
from api.settings import Settings
from catalog.model import Catalog
from catalog.versions import read_live_catalog


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
