"""The live catalog as the app serves it: the newest published version, parsed once per
process and content hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from api.problems import Problem
from api.runtime import plain_db, runtime
from catalog.loading import catalog_from_document
from catalog.model import Catalog
from catalog.versions import latest_version_row, version_document


@dataclass(frozen=True)
class LiveCatalog:
    version: Row[Any]
    """The live version's columns but its document (`catalog.versions.latest_version_row`)."""
    catalog: Catalog


def live_catalog() -> LiveCatalog:
    """The catalog this request must use; 503 while none has been published."""
    database = plain_db()
    version = latest_version_row(database)
    if version is None:
        raise Problem("service-unavailable", "No catalog has been published yet: run `mianzheng init`.")
    cache = runtime().catalogs
    catalog = cache.get(version.content_hash)
    if catalog is None:
        catalog = catalog_from_document(version_document(database, version.id))
        cache[version.content_hash] = catalog
    return LiveCatalog(version=version, catalog=catalog)
