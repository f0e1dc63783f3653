"""Published catalog versions: every publication is stored whole, with its content hash,
time and publisher; the live catalog is the newest version.

Rolling back is publishing an earlier document again, so the history only grows and an
auditor can see which catalog was live at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Connection, Integer, Row, String, Text, select
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column

from catalog.errors import LiveVersionChanged, NoCatalogPublished
from catalog.loading import catalog_from_document
from catalog.model import Catalog
from core.canonical import canonical_sha256
from core.orm import Base, UtcDateTime, plain_connection


class CatalogVersion(Base):
    """One published catalog document."""

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    document: Mapped[dict[str, Any]] = deferred(mapped_column(JSON, nullable=False))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class PublishOutcome:
    """The live version after a publication, and whether the publication created it."""

    version: CatalogVersion
    created: bool


def latest_version(session: Session) -> CatalogVersion | None:
    """The live version (the newest one), without loading its document."""
    return session.scalars(_LATEST_VERSION).first()


_LATEST_VERSION = select(CatalogVersion).order_by(CatalogVersion.number.desc()).limit(1)
"""`latest_version`'s statement, built once."""


def latest_version_row(database: Session | Connection) -> Row[Any] | None:
    """`latest_version` as a plain row of its columns but the document (id, number, content_hash,
    published_at, published_by, note): what every request that uses the catalog reads, with no
    ORM object to build; a session's connection or a bare one will do."""
    return plain_connection(database).execute(_LATEST_ROW).first()


def version_numbered(session: Session, number: int) -> CatalogVersion | None:
    """The published version `number`, or None."""
    return session.scalars(select(CatalogVersion).where(CatalogVersion.number == number)).first()


def version_document(database: Session | Connection, version_id: int) -> dict[str, Any]:
    """The catalog document of the version `version_id` (see `latest_version_row`)."""
    query = select(_VERSIONS.c.document).where(_VERSIONS.c.id == version_id)
    return plain_connection(database).execute(query).scalar_one()


_VERSIONS = CatalogVersion.__table__
_LATEST_ROW = select(_VERSIONS.c.id, _VERSIONS.c.number, _VERSIONS.c.content_hash, _VERSIONS.c.published_at,
                     _VERSIONS.c.published_by, _VERSIONS.c.note).order_by(_VERSIONS.c.number.desc()).limit(1)


def version_hashes(database: Session | Connection) -> list[tuple[int, int, str]]:
    """(id, number, content hash) of every published version, oldest first (no documents read)."""
    query = select(_VERSIONS.c.id, _VERSIONS.c.number, _VERSIONS.c.content_hash).order_by(_VERSIONS.c.number)
    return [(row.id, row.number, row.content_hash) for row in plain_connection(database).execute(query)]


def published_documents(database: Session | Connection) -> list[dict[str, Any]]:
    """The document of every published version, oldest first: what the exchange signs for offline
    verifiers (`exchange.certificates.issuer_list`)."""
    return [version_document(database, version_id) for version_id, _, _ in version_hashes(database)]


def read_live_catalog(session: Session) -> Catalog:
    """The live catalog, parsed; `NoCatalogPublished` before the first publication."""
    version = latest_version(session)
    if version is None:
        raise NoCatalogPublished("no catalog has been published yet")
    return catalog_from_document(version.document)


def list_versions(session: Session) -> list[CatalogVersion]:
    """Every published version, newest first."""
    return list(session.scalars(select(CatalogVersion).order_by(CatalogVersion.number.desc())))


def publish(session: Session, catalog: Catalog, published_by: str, note: str | None = None, *,
            base: int | None = None) -> PublishOutcome:
    """Store `catalog` as the new live version unless it is already the live content (the live
    version's document, hashed again: one edited in place beside its hash is replaced).

    The caller validated the catalog (loading it is validating it) and owns the transaction;
    two concurrent publications collide on the unique version number and one fails whole.
    `base`: the live version the catalog was edited from; `LiveVersionChanged` when another is
    live now (an administrator's edit would silently replace a colleague's publication).
    """
    live = latest_version(session)
    if base is not None and (live.number if live else 0) != base:
        raise LiveVersionChanged(live.number if live else 0)
    content_hash = catalog.content_hash()
    if live is not None and live.content_hash == content_hash and canonical_sha256(live.document) == content_hash:
        return PublishOutcome(version=live, created=False)
    version = CatalogVersion(
        number=(live.number + 1) if live else 1,
        content_hash=content_hash,
        document=catalog.to_document(),
        published_at=datetime.now(timezone.utc),
        published_by=published_by,
        note=note,
    )
    session.add(version)
    session.flush()
    return PublishOutcome(version=version, created=True)
