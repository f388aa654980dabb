"""A real browser: Debian's Chromium, driven by Playwright (which downloads no browser of its own)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.written import delete_written

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long an expectation waits before it fails: long enough for a page's answer on 2 cores busy with other work
# (another demo, the sandbox servers, PDF layout). It bounds only a page that never becomes right; speed is
# measured in benchmarks/, never here.
EXPECT_TIMEOUT_MS = 30_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Per test: sync Playwright runs an event loop of its own, which must not outlive the test."""
    with sync_playwright() as playwright:
        running = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield running
        running.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def written(fhir: dict[str, httpx.Client]) -> Iterator[list[str]]:
    """References of the checklists a test saves; afterwards, what they wrote to the unit's record is deleted."""
    references: list[str] = []
    yield references
    for reference in references:
        delete_written(fhir["neonatal"], reference)
