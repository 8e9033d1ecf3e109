"""Headless Debian chromium driven by Playwright, for the tests of the web page and /docs.

The browser is the distribution's (``make browser-tools`` apt-installs ``chromium``), never
one that ``playwright install`` downloads: CI and GPU hosts reach package registries only.
Tests skip, saying why, only when no chromium binary or no playwright package is present.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SKIP_REASON = "no chromium browser: run `make browser-tools` (apt-get install chromium) to run the browser tests"


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_browser() -> str:
    """The chromium binary, or skip the test with the reason and the fix."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    path = chromium_path()
    if path is None:
        pytest.skip(SKIP_REASON)
    return path


@contextmanager
def chromium(executable: str) -> Iterator[object]:
    """A launched headless browser (Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def only_local(page, base_url: str) -> list[str]:
    """Abort every request that does not go to ``base_url``; returns the list of those refused
    (what a page would try to fetch from a CDN on a host without internet)."""
    refused: list[str] = []

    def handle(route) -> None:
        url = route.request.url
        if url.startswith(base_url) or url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", handle)
    return refused


def shown_image_bytes(page, selector: str) -> bytes:
    """The bytes behind an ``<img>``'s current ``src`` (a blob: URL), read inside the page."""
    data = page.eval_on_selector(
        selector,
        """async (img) => {
            const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            return Array.from(buf);
        }""",
    )
    return bytes(data)
