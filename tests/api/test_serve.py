"""`mianzheng serve` runs the app under gunicorn and answers over HTTP, as `scripts/serve` does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.postgres import free_port


@pytest.mark.slow
def test_serve_answers_with_the_catalog_page(database_url: str, tmp_path: Path) -> None:
    env = cli_environment(database_url, tmp_path / "var")
    port = free_port()
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        page = httpx.get(f"{base}/catalog", params={"q": "公租房"})
        assert page.status_code == 200
        assert "证明事项清单公开" in page.text and "无房证明" in page.text
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"{base}/catalog" in output


def test_serve_refuses_an_uninitialised_database(tmp_path: Path) -> None:
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var"), "serve")
    assert result.returncode == 4
    assert "mianzheng init" in result.stderr


@pytest.mark.slow
def test_the_front_servers_own_errors_are_problem_documents(database_url: str, tmp_path: Path) -> None:
    """gunicorn answers a too-long request line itself, and a chunked body over the limit is 413."""
    env = cli_environment(database_url, tmp_path / "var")
    port = free_port()
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        too_long = httpx.get(f"{base}/api/v1/catalog/proofs", params={"q": "x" * 9000})
        assert too_long.status_code == 414
        assert too_long.headers["content-type"] == "application/problem+json"
        assert too_long.json()["status"] == 414 and too_long.json()["type"].startswith("/problems/")

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"qr": "'
            for _ in range(40):
                yield b"A" * 65536
            yield b'"}'

        chunked = httpx.post(f"{base}/api/v1/verify", content=chunks(), headers={"content-type": "application/json"},
                             timeout=30)
        assert chunked.status_code == 413, chunked.text
        assert chunked.json()["type"] == "/problems/payload-too-large"
    finally:
        server.terminate()
        server.communicate(timeout=30)
