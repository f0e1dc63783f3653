"""The live catalog as the app serves it: the newest published version, parsed once per
process and content hash; and who issues what by every catalog published (`published_issuers`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from api.problems import Problem
from api.runtime import plain_db, runtime
from catalog.loading import catalog_from_document
from catalog.model import Catalog, IssuedKind
from catalog.versions import every_issuer, latest_version_row, version_document
from exchange.certificates.verdict import IssuerCompetence


@dataclass(frozen=True)
class LiveCatalog:
    version: Row[Any]
    """The live version's columns but its document (`catalog.versions.latest_version_row`)."""
    catalog: Catalog


def published_issuers(database: Connection | None = None) -> IssuerCompetence:
    """Who issues what, by every catalog this installation ever published (`Catalog.issuers`): a
    certificate or license stays its issuer's to have made after a later catalog moved the proof
    to another department. What a process computed stays true, since publications only add to
    the union: a pair found there needs no read; one not found is looked for again in the union
    up to the live version (one read; computed once per live version and process), so a
    publication is seen at once. `database`: the connection to read with (default: the request's)."""
    current = runtime()

    def issues(code: str, uscc: str, name_zh: str) -> bool:
        kind = IssuedKind(code, uscc, name_zh)
        if any(kind in kinds for kinds in current.issuers.values()):
            return True
        return kind in issuers_up_to_live_version(database or plain_db())
    return issues


def issuers_up_to_live_version(database: Connection) -> frozenset[IssuedKind]:
    """Who issues what by every catalog published up to the live version, computed once per live
    version and process (`catalog.versions.every_issuer`); 503 before the first publication."""
    live = latest_version_row(database)
    if live is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    current = runtime()
    known = current.issuers.get(live.content_hash)
    if known is None:
        known = current.issuers[live.content_hash] = every_issuer(database, _parsed)
    return known


def _parsed(database: Session | Connection, version_id: int, content_hash: str) -> Catalog:
    """The catalog of a published version, parsed once per process and content hash."""
    cache = runtime().catalogs
    catalog = cache.get(content_hash)
    if catalog is None:
        catalog = cache[content_hash] = catalog_from_document(version_document(database, version_id))
    return catalog


def live_catalog() -> LiveCatalog:
    """The catalog this request must use; 503 while none has been published."""
    database = plain_db()
    version = latest_version_row(database)
    if version is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    return LiveCatalog(version=version, catalog=_parsed(database, version.id, version.content_hash))
