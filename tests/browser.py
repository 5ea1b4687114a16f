"""A real headless Chromium for the web map's tests (Debian's ``chromium``, driven by Playwright).

The browser is the machine's own (``.ci/run`` installs Debian's package): Playwright never
downloads one.  Without it, or without Playwright, the tests say so and skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def artifacts_dir() -> Path:
    """Where browser tests keep screenshots: $GATEWAY_TEST_ARTIFACTS, else ./test-artifacts."""
    path = Path(os.environ.get("GATEWAY_TEST_ARTIFACTS") or "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def chromium_page(width: int = 1600, height: int = 900) -> Iterator[tuple[Any, list[str]]]:
    """A page in headless Chromium and the list its console errors and page errors go to."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'playwright>=1.45')")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console",
                    lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            yield page, errors
        finally:
            browser.close()
