"""Poppler's pdfsig and NSS's certutil, as a verifier outside our code judges a signed PDF, and
poppler's pdftotext, as a reader sees a printed page.

pdfsig exits 0 even on a digest mismatch, so callers read its output, never its exit code.
A missing tool skips the test outside CI and fails it in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing (Debian package {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_pdfsig(pdf: bytes, folder: Path, nss_dir: Path | None = None) -> str:
    """pdfsig's report on `pdf`; with `nss_dir`, against that NSS database's trust."""
    pdfsig = require_tool("pdfsig", "poppler-utils")
    path = folder / "document.pdf"
    path.write_bytes(pdf)
    command = [pdfsig, *(["-nssdir", f"sql:{nss_dir}"] if nss_dir else []), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout


def page_texts(pdf: bytes, folder: Path) -> list[str]:
    """The text of each page of `pdf` as poppler's pdftotext reads it (pages end with a form feed)."""
    pdftotext = require_tool("pdftotext", "poppler-utils")
    path = folder / "pages.pdf"
    path.write_bytes(pdf)
    text = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, timeout=60,
                          check=True).stdout
    return text.split("\f")[:-1]


def signed_whole(report: str) -> bool:
    """Whether pdfsig says the signature covers the whole file: a change appended as an
    incremental update after signing leaves "Signature is Valid" and only drops this line."""
    return "  - Total document signed" in report


def nss_db_trusting(root_pem: bytes, folder: Path) -> Path:
    """A new NSS database under `folder` that trusts `root_pem` for signatures (C,C,C)."""
    certutil = require_tool("certutil", "libnss3-tools")
    nss_dir = folder / "nss"
    nss_dir.mkdir()
    root_file = folder / "root-to-trust.pem"
    root_file.write_bytes(root_pem)
    subprocess.run([certutil, "-N", "-d", f"sql:{nss_dir}", "--empty-password"], check=True, capture_output=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{nss_dir}", "-n", "Root", "-t", "C,C,C", "-i", str(root_file)],
                   check=True, capture_output=True)
    return nss_dir
