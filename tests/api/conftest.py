"""Fixtures of the HTTP tests shared by several modules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from api.app import create_app
from api.settings import Settings
from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog
from tests.support.cli import cli_environment
from tests.support.connector import Connector
from tests.support.live_server import serving
from tests.support.postgres import free_port

CIVIL_AFFAIRS_TOKEN = "civil-affairs-connector-token-0123"


@pytest.fixture(scope="module")
def bundled() -> Catalog:
    """The catalog `mianzheng init` publishes."""
    return load_catalog(bundled_catalog_path())


@pytest.fixture
def civil_affairs(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Connector, dict[str, str]]]:
    """The app with MZ behind a connector that is not running yet; its CLI environment."""
    port = free_port()
    token_file = tmp_path / "mz-token"
    token_file.write_text(CIVIL_AFFAIRS_TOKEN + "\n", encoding="utf-8")
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(
        f"departments:\n  MZ:\n    url: http://127.0.0.1:{port}\n    token: {CIVIL_AFFAIRS_TOKEN}\n"
        # refused at once while stopped; 5 s (the default budget) for its first queries once started
        "    timeout_seconds: 5\n    retries: 0\n    breaker_cooldown_seconds: 1\n", encoding="utf-8")
    connector = Connector("MZ", settings.sources_dir / "MZ.db", token_file, port)
    app: Flask = create_app(dataclasses.replace(settings, sources_file=sources_file))
    env = {**cli_environment(settings.database_url, settings.var_dir), "MIANZHENG_SOURCES_FILE": str(sources_file)}
    with serving(app) as base:
        yield base, connector, env
    if connector.process is not None:
        connector.stop()
    app.extensions["mianzheng"].engine.dispose()
