"""What one app process holds: its settings, its database engine and session factory, and
the parsed catalogs it has already read (keyed by content hash, so a newly published
version is picked up by every worker on its next request).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.database import make_engine, make_session_factory
from api.seal_config import seal_settings
from api.settings import Settings
from catalog.model import Catalog
from seals.settings import SealSettings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    catalogs: dict[str, Catalog] = field(default_factory=dict)

    @cached_property
    def seal_settings(self) -> SealSettings:
        """Read once per process: the passphrase comes from a secret."""
        return seal_settings(self.settings)

    @classmethod
    def start(cls, settings: Settings) -> "Runtime":
        engine = make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine))


def runtime() -> Runtime:
    """The runtime of the current app."""
    return current_app.extensions["mianzheng"]


def db() -> Session:
    """The current request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def close_request_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
