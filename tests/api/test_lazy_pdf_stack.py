"""A server process loads the PDF stack (reportlab, pyHanko and the aiohttp client it brings) only
when it first renders, signs or verifies a PDF: the app the arbiter builds before forking, the
jobs and the set-up carry none of it, so no worker holds it until a PDF request comes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PDF_STACK = ["pyhanko", "pyhanko_certvalidator", "reportlab", "aiohttp"]


@pytest.mark.parametrize("dev_idp", ["0", "1"])
def test_the_built_app_the_jobs_and_init_load_no_pdf_stack(dev_idp: str, tmp_path: Path) -> None:
    # a fresh interpreter: what a process loads is only visible from outside it
    script = ("import sys\nfrom api.app import create_app\nimport api.jobs, api.initialise\n"
              "from api.settings import Settings\n"
              "create_app(Settings.from_environment())\n"
              "from api.extensions import demo_extension\n"
              "demo = demo_extension(Settings.from_environment())\n"
              "if demo is not None:\n    import demo.setup\n"
              f"print(sorted(m for m in {PDF_STACK!r} if m in sys.modules), file=sys.stderr)")
    env = {**os.environ, "MIANZHENG_DEV_IDP": dev_idp, "MIANZHENG_VAR_DIR": str(tmp_path / "var"),
           "MIANZHENG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env=env).stderr.strip()
    assert loaded == "[]"
