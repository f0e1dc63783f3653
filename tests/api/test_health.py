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


def test_a_database_that_cannot_be_reached_is_a_503_to_retry_not_a_crash(tmp_path: Path) -> None:
    """The database server is down (nothing listens where it should): a caller is told the
    service is unavailable for now and when to try again, on the API and on the pages."""
    from tests.support.postgres import free_port

    down = f"postgresql+psycopg://mianzheng@127.0.0.1:{free_port()}/mianzheng"
    app = create_app(Settings(var_dir=tmp_path, database_url=down, public_url="http://127.0.0.1:8000"))
    with serving(app) as base_url:
        assert httpx.get(f"{base_url}/healthz").status_code == 200
        assert httpx.get(f"{base_url}/readyz", timeout=30).status_code == 503
        for path in ("/api/v1/catalog/matters", "/api/v1/status-lists/1"):
            answer = httpx.get(f"{base_url}{path}", timeout=30)
            assert answer.status_code == 503, (path, answer.status_code, answer.text[:200])
            assert answer.headers["content-type"] == "application/problem+json"
            assert int(answer.headers["retry-after"]) > 0
            assert "127.0.0.1" not in answer.text and "mianzheng@" not in answer.text
        for path in ("/api/v1/exchange/requests", "/api/v1/exchange/license-uses"):  # a department system's pull
            answer = httpx.post(f"{base_url}{path}", json={"request_id": "during-restart-1"}, timeout=30,
                                headers={"Authorization": "Bearer mzc_unknown.secret"})  # its token cannot be checked
            assert answer.status_code == 503, (path, answer.status_code, answer.text[:200])
            assert int(answer.headers["retry-after"]) > 0
        page = httpx.get(f"{base_url}/catalog", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 503 and "请稍后再试" in page.text
    app.extensions["mianzheng"].engine.dispose()
