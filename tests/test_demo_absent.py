"""A production installation runs without the demo part: in a fresh interpreter where `demo` cannot
be imported at all, on a fresh database, `mianzheng --help` and `mianzheng init` work, the app
builds and serves its health checks and the catalog, the development sign-in is not there — and
nothing ever tried to import `demo`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_RUN = r'''
import contextlib, io, json, sys
from importlib.abc import MetaPathFinder

tried = []

class NoDemo(MetaPathFinder):
    """The demo part is not installed: importing `demo` or `demo.*` fails."""
    def find_spec(self, name, path=None, target=None):
        if name == "demo" or name.startswith("demo."):
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoDemo())

from api.cli import main

def run(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

report = {"help": run("--help"), "init": run("init"), "demo_command": run("demo", "residents")}

from api.app import create_app
from api.settings import Settings

client = create_app(Settings.from_environment()).test_client()
report["pages"] = {path: client.get(path).status_code
                   for path in ("/healthz", "/readyz", "/catalog", "/api/v1/catalog", "/dev-idp/login",
                                "/caseworker/demo-households")}
report["catalog_page_names_the_proof"] = "无房证明" in client.get("/catalog?q=公租房").get_data(as_text=True)
report["openapi_paths"] = sorted(client.get("/api/v1/openapi.json").get_json()["paths"])
report["tried"] = tried
report["loaded"] = sorted(name for name in sys.modules if name == "demo" or name.startswith("demo."))
print(json.dumps(report, ensure_ascii=False))
'''


def test_a_production_installation_sets_up_and_serves_without_the_demo_part(fresh_database: str,
                                                                            tmp_path: Path) -> None:
    env = {**os.environ, "MIANZHENG_DATABASE_URL": fresh_database, "MIANZHENG_VAR_DIR": str(tmp_path / "var"),
           "MIANZHENG_DEV_IDP": "0"}
    completed = subprocess.run([sys.executable, "-c", PRODUCTION_RUN], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["help"]["code"] == 0 and "catalog" in report["help"]["stdout"]
    assert " demo " not in report["help"]["stdout"]
    assert report["init"]["code"] == 0, report["init"]["stderr"]
    assert "已发布随附目录，第 1 版。" in report["init"]["stdout"]
    for demo_step in ("开发测试用身份认证", "演示数据源", "演示公租房在租家庭", "演示电子证照"):
        assert demo_step not in report["init"]["stdout"]
    assert report["demo_command"]["code"] == 2  # no such command in production
    assert report["pages"] == {"/healthz": 200, "/readyz": 200, "/catalog": 200, "/api/v1/catalog": 200,
                               "/dev-idp/login": 404, "/caseworker/demo-households": 404}
    assert report["catalog_page_names_the_proof"]
    assert not [path for path in report["openapi_paths"] if path.startswith("/dev-idp")]
    assert report["tried"] == [] and report["loaded"] == []
    assert not (tmp_path / "var" / "sources").exists() and not (tmp_path / "var" / "dev-idp").exists()
