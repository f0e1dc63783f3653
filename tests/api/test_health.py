"""Liveness and readiness as a load balancer probes them."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.app import create_app
from api.settings import Settings
from tests.support.live_server import serving


def test_ready_when_the_database_holds_a_catalog(live_server: str) -> None:
    assert httpx.get(f"{live_server}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_server}/readyz")
    assert ready.status_code == 200
    assert ready.json()["catalog_version"] == 1


def test_not_ready_on_an_empty_database(tmp_path: Path) -> None:
    app = create_app(Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}",
                              public_url="http://127.0.0.1:8000"))
    with serving(app) as base_url:
        assert httpx.get(f"{base_url}/healthz").status_code == 200
        ready = httpx.get(f"{base_url}/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert "mianzheng init" in ready.json()["detail"]
