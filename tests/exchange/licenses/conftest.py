"""Fixtures of the license tests: the bundled catalog and a throwaway city PKI with the civil
affairs bureau's (MZ) seal and the exchange's (SJ)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog
from tests.exchange.certificates.conftest import Pki, make_pki


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Pki]:
    yield from make_pki(tmp_path_factory.mktemp("pki"), catalog, ("MZ", "SJ"))
