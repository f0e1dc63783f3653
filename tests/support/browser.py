"""Headless Chromium (Debian's package) driven by Playwright, for testing web pages as a
person uses them. The browser never reaches beyond 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, expect, sync_playwright

EXPECT_TIMEOUT_MS = 15_000
"""How long a page assertion waits: the test machines are shared, two cores run the server,
the database and the browser, and a page that settles later than Playwright's 5 s default is
still right."""
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = find_chromium()
    if executable is None:
        raise RuntimeError("Chromium is not installed (Debian package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                             env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
        try:
            yield browser
        finally:
            browser.close()
