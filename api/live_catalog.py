"""The live catalog as the app serves it: the newest published version, checked against the
access log's chain and parsed once per process and content hash; and who issues what, and how
each document reads, by every catalog published (`published_issuers`), and those catalogs'
documents (`published_catalog_documents`); and the names every catalog published gave, for
naming past records (`naming_catalog`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from api.problems import Problem
from api.runtime import plain_db, runtime
from catalog.loading import catalog_from_document
from catalog.model import Catalog
from catalog.versions import latest_version_row, version_document, version_hashes
from exchange.certificates.model import SealedFacts
from exchange.certificates.published_documents import PublishedDocuments
from exchange.certificates.verdict import IssuerCompetence
from exchange.operations import as_published, published_content_hashes


@dataclass(frozen=True)
class LiveCatalog:
    version: Row[Any]
    """The live version's columns but its document (`catalog.versions.latest_version_row`)."""
    catalog: Catalog


def published_issuers(database: Connection | None = None) -> IssuerCompetence:
    """Who issues what, and how each kind of document reads, by every catalog this installation
    ever published (`PublishedDocuments`): a certificate or license stays its issuer's to have
    made after a later catalog moved the proof to another department or reworded it. What a
    process computed stays true, since publications only add catalogs: a document one of those
    accepts needs no read; one none accepts is judged again by every catalog up to the live
    version (one read; computed once per live version and process), so a publication is seen at
    once. `database`: the connection to read with (default: the request's)."""
    current = runtime()

    def judge(content: SealedFacts) -> str | None:
        if any(known(content) is None for known in current.issuers.values()):
            return None
        return documents_up_to_live_version(database or plain_db())(content)
    return judge


def documents_up_to_live_version(database: Connection) -> PublishedDocuments:
    """Every catalog published up to the live version, as `PublishedDocuments`, computed once per
    live version and process; 503 before the first publication."""
    live = latest_version_row(database)
    if live is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    current = runtime()
    known = current.issuers.get(live.id)  # by version, not content: a rollback is a new version with more before it
    if known is None:
        known = current.issuers[live.id] = PublishedDocuments.of(
            _parsed(database, *version) for version in version_hashes(database))
    return known


def published_catalog_documents(database: Connection) -> tuple[dict[str, Any], ...]:
    """The document of every published version, oldest first (what `/trust/issuers` signs): read
    again only when the versions published differ from the last read (one small read of their
    ids and hashes each time, so a publication is in the next answer)."""
    versions = tuple(version_hashes(database))
    current = runtime()
    known = current.published_documents
    if known is None or known[0] != versions:
        recorded = published_content_hashes(database)
        known = current.published_documents = (versions, tuple(
            as_published(recorded, number, content_hash, version_document(database, version_id))
            for version_id, number, content_hash in versions))
    return known[1]


def naming_catalog() -> Catalog:
    """The live catalog with what earlier publications defined and it no longer has: for naming
    past records only (a consent, an access-log entry), so a matter, proof or department a later
    publication dropped keeps its name where the citizen reads about it. Never for deciding
    anything. Built once per process and live version."""
    live = live_catalog()
    current = runtime()
    named = current.naming.get(live.version.id)
    if named is None:
        database = plain_db()
        # oldest first: a newer definition wins
        every = [*(_parsed(database, *version) for version in version_hashes(database)), live.catalog]

        def merged(attribute: str) -> MappingProxyType[str, Any]:
            return MappingProxyType({code: entry for catalog in every for code, entry in getattr(catalog, attribute).items()})
        named = current.naming[live.version.id] = replace(
            live.catalog, departments=merged("departments"), proofs=merged("proofs"), matters=merged("matters"),
            licenses=merged("licenses"))
    return named


def _parsed(database: Session | Connection, version_id: int, number: int, content_hash: str) -> Catalog:
    """The catalog of a published version, parsed once per process and content hash, once the
    chain's entry has vouched for it (`exchange.operations.as_published`)."""
    cache = runtime().catalogs
    catalog = cache.get(content_hash)
    if catalog is None:
        document = as_published(published_content_hashes(database), number, content_hash,
                                version_document(database, version_id))
        catalog = cache[content_hash] = catalog_from_document(document)
    return catalog


def live_catalog() -> LiveCatalog:
    """The catalog this request must use; 503 while none has been published."""
    database = plain_db()
    version = latest_version_row(database)
    if version is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    return LiveCatalog(version=version, catalog=_parsed(database, version.id, version.number, version.content_hash))
