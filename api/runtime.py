"""What one app process holds: its settings, its database engine and session factory, and
the parsed catalogs it has already read (keyed by content hash, so a newly published
version is picked up by every worker on its next request), and its last count of the public
statistics.

`Runtime` itself needs no Flask (a command builds one with `Runtime.start`); `runtime()`, `db()`
and `plain_db()` are the request-time accessors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flask import current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from api.counted_statistics import CountedStatistics
from api.database import make_engine, make_session_factory, plain_reads
from api.identity_config import IdentityConfig, identity_config
from api.seal_config import seal_settings
from api.secrets import SUBJECT_HASH_KEY, read_keyring, read_secret
from api.settings import Settings
from api.token_bucket import (STRANGER_REFUSALS_BURST, STRANGER_REFUSALS_PER_SECOND, VALIDATION_BURST,
                              VALIDATION_RATE_PER_SECOND, VERIFY_BURST, VERIFY_RATE_PER_SECOND, TokenBucket)
from catalog.errors import NoCatalogPublished
from catalog.loading import catalog_from_document
from catalog.model import Catalog
from catalog.versions import latest_version
from exchange.keyring import Keyring, Purpose, RecordCipher
from exchange.operations import CatalogNotAsPublished, as_published, published_content_hashes
from exchange.sources.directory import PullObserver, SourceDirectory, build_sources
from seals.settings import SealSettings

if TYPE_CHECKING:
    from exchange.certificates.published_documents import PublishedDocuments

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    statistics: CountedStatistics
    """The public statistics as this process last counted them."""
    catalogs: dict[str, Catalog] = field(default_factory=dict)
    issuers: dict[int, PublishedDocuments] = field(default_factory=dict)
    """Who issues what by every catalog published up to a live version, by its id (`api.live_catalog`)."""
    naming: dict[int, Catalog] = field(default_factory=dict)
    """Per live version's id, the names every catalog published gave (`api.live_catalog.naming_catalog`)."""
    published_documents: tuple[tuple[tuple[int, str], ...], tuple[dict[str, Any], ...]] | None = None
    """The versions published and their documents, as last read (`api.live_catalog.published_catalog_documents`)."""
    sources: dict[str, SourceDirectory] = field(default_factory=dict)
    """The source departments' adapters per catalog content hash (breaker state lives in them)."""
    verify_bucket: TokenBucket = field(default_factory=lambda: TokenBucket(VERIFY_RATE_PER_SECOND, VERIFY_BURST))
    """Rate limit of public verifications, per client address, in this process."""
    validation_bucket: TokenBucket = field(
        default_factory=lambda: TokenBucket(VALIDATION_RATE_PER_SECOND, VALIDATION_BURST))
    """Rate limit of catalog validations, per client, in this process."""
    stranger_refusal_bucket: TokenBucket = field(
        default_factory=lambda: TokenBucket(STRANGER_REFUSALS_PER_SECOND, STRANGER_REFUSALS_BURST))
    """Exchange refusals of callers without a client token written to the access log, per address."""
    stranger_warning_bucket: TokenBucket = field(default_factory=lambda: TokenBucket(1 / 60, 1))
    """The server log's word that an address's refusals are no longer logged: once a minute."""
    pull_observer: PullObserver | None = None
    """Told how every query to a source department ended (the served app's metrics)."""

    @cached_property
    def seal_settings(self) -> SealSettings:
        """Read once per process: the passphrase comes from a secret."""
        return seal_settings(self.settings)

    @cached_property
    def subject_hash_key(self) -> bytes:
        """The key of subject keys (keyed hashes of ID numbers); a secret, read once per process."""
        return read_secret(self.settings, SUBJECT_HASH_KEY)

    @cached_property
    def identity(self) -> IdentityConfig:
        """The identity providers trusted for citizen sign-in (and the dev IdP, when enabled)."""
        return identity_config(self.settings)

    @cached_property
    def keyring(self) -> Keyring:
        """The encryption keyring; secrets, read once per process."""
        return read_keyring(self.settings)

    @cached_property
    def answer_box(self) -> RecordCipher:
        """Seals stored exchange answers (idempotent replays); application data is sealed by the
        same keyring under a purpose of its own (`RecordCipher.for_purpose`)."""
        return self.keyring.cipher(Purpose.EXCHANGE_ANSWERS)

    def exchange_uscc(self, catalog: Catalog) -> str:
        """The USCC of the department operating the exchange: its seal alone signs status lists,
        receipts, presentations' bindings and usage copies, so verifiers accept them from it only."""
        return catalog.departments[self.settings.exchange_department].uscc

    def sources_for(self, content_hash: str, catalog: Catalog) -> SourceDirectory:
        """The source adapters of the catalog version `content_hash`, built once per process."""
        sources = self.sources.get(content_hash)
        if sources is None:
            sources = build_sources(catalog, self.settings.sources_dir, self.settings.sources_file,
                                    observer=self.pull_observer)
            self.sources[content_hash] = sources
        return sources

    def published_catalog(self) -> tuple[Catalog, str]:
        """The newest published catalog and its content hash, outside a request (commands, jobs);
        NoCatalogPublished before `mianzheng init`, CatalogNotAsPublished when its stored document
        is not what the access log's chain records as published."""
        with self.sessions() as session:
            version = latest_version(session)
            if version is None:
                raise NoCatalogPublished("no catalog has been published yet")
            content_hash = version.content_hash
            catalog = self.catalogs.get(content_hash)
            if catalog is None:  # checked against the chain, parsed, once per process and content
                document = as_published(published_content_hashes(session), version.number, content_hash,
                                        version.document)
                catalog = self.catalogs[content_hash] = catalog_from_document(document)
        return catalog, content_hash

    def warm(self) -> None:
        """What every process of a server does first, done once in gunicorn's arbiter before it
        forks, so that the workers and the jobs share it instead of each making its own copy: the
        ORM's mappers configured and the live catalog parsed, when one is published. The
        connection that read it is closed: none crosses the fork."""
        configure_mappers()
        try:
            self.published_catalog()
        except NoCatalogPublished:
            pass
        except CatalogNotAsPublished as altered:  # served as such, request by request
            log.error("the live catalog is not used: %s", altered)
        finally:
            self.engine.dispose()

    def forked(self) -> "Runtime":
        """This runtime for a process forked from the one holding it: the catalogs it parsed shared,
        an engine of its own."""
        engine = make_engine(self.settings.database_url)
        return replace(self, engine=engine, sessions=make_session_factory(engine),
                       statistics=CountedStatistics(self.settings.statistics_max_age))

    @classmethod
    def start(cls, settings: Settings) -> "Runtime":
        engine = make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine),
                   statistics=CountedStatistics(settings.statistics_max_age))


def runtime() -> Runtime:
    """The runtime of the current app."""
    return current_app.extensions["mianzheng"]


def db() -> Session:
    """The current request's session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = runtime().sessions()
    return g.db


def plain_db() -> Connection:
    """The current request's connection for plain reads of committed rows (who the client is, the
    live catalog's version), each statement on its own: outside any transaction on PostgreSQL
    (`api.database.plain_reads`), so a read is one round trip. Opened on first use, closed at
    teardown."""
    if "plain_db" not in g:
        g.plain_db = plain_reads(runtime().engine).connect()
    return g.plain_db


def close_request_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
    connection = g.pop("plain_db", None)
    if connection is not None:
        connection.close()
