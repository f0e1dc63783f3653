"""A catalog version is used only as the access log's chain records its publication
(`exchange.operations.as_published`), whatever its content hash looks like."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from catalog.citizen_id import mask_free_text
from catalog.versions import CatalogVersion
from core.canonical import canonical_sha256
from exchange.operations import Actor, CatalogNotAsPublished, as_published, published_content_hashes, record_publication


def test_a_version_whose_hash_ends_in_eighteen_digits_is_used_as_published(session: Session) -> None:
    """The log masks what is shaped like an ID number in an entry's typed text, and a content
    hash can end in eighteen digits (about one catalog in a few thousand): its publication is
    still recognised, and another document under that number is still refused."""
    document = next({"n": n} for n in range(100_000)
                    if mask_free_text(canonical_sha256({"n": n})) != canonical_sha256({"n": n}))
    content_hash = canonical_sha256(document)
    record_publication(session, CatalogVersion(number=7, content_hash=content_hash, published_by="目录管理员"), Actor())
    recorded = published_content_hashes(session)
    assert as_published(recorded, 7, content_hash, document) is document
    with pytest.raises(CatalogNotAsPublished):
        as_published(recorded, 7, canonical_sha256({"n": -1}), {"n": -1})
    with pytest.raises(CatalogNotAsPublished):
        as_published(recorded, 8, content_hash, document)
