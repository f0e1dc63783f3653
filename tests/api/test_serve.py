"""`mianzheng serve` runs the app under gunicorn and answers over HTTP, as `scripts/serve` does."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.cli import MIANZHENG, cli_environment, run_cli, wait_until_answering
from tests.support.postgres import free_port


@pytest.mark.slow
def test_serve_answers_with_the_catalog_page(database_url: str, tmp_path: Path) -> None:
    env = cli_environment(database_url, tmp_path / "var")
    env.pop("MIANZHENG_PUBLIC_URL", None)
    port = free_port()
    # what scripts/serve --port does: init with the public URL of that port, which init records
    assert run_cli({**env, "MIANZHENG_PUBLIC_URL": f"http://127.0.0.1:{port}"}, "init").returncode == 0
    server = subprocess.Popen([MIANZHENG, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/readyz", server, "the server")
        page = httpx.get(f"{base}/catalog", params={"q": "公租房"})
        assert page.status_code == 200
        assert "证明事项清单公开" in page.text and "无房证明" in page.text
        status_list = httpx.get(f"{base}/api/v1/status-lists/1").text.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(status_list + "=" * (-len(status_list) % 4)))
        assert claims["id"] == f"{base}/api/v1/status-lists/1"  # the recorded public URL, not port 8000
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"{base}/catalog" in output and f"{base}/portal" in output and f"{base}/verify" in output


def test_serve_refuses_an_uninitialised_database(tmp_path: Path) -> None:
    result = run_cli(cli_environment(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "var"), "serve")
    assert result.returncode == 4
    assert "mianzheng init" in result.stderr
