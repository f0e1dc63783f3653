"""Fixtures of the source tests: the bundled catalog and the demo departments' databases,
generated once per session at full size (10,000 residents)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog
from demo.data import generate_demo_sources


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


@pytest.fixture(scope="session")
def demo_generation(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The folder of the generated demo databases and how long generating them took."""
    folder = tmp_path_factory.mktemp("demo-sources")
    started = time.monotonic()
    generate_demo_sources(folder, catalog)
    return folder, time.monotonic() - started


@pytest.fixture(scope="session")
def demo_folder(demo_generation: tuple[Path, float]) -> Path:
    return demo_generation[0]
