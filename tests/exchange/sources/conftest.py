"""Fixtures of the source tests: the bundled catalog and the demo departments' databases,
generated once per session at full size (10,000 residents)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog
from demo.data import generate_demo_sources


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


@pytest.fixture(scope="session")
def demo_folder(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the generated demo databases."""
    folder = tmp_path_factory.mktemp("demo-sources")
    generate_demo_sources(folder, catalog)
    return folder
