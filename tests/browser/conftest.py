"""A real browser: Debian's Chromium, driven by Playwright (which downloads no browser of its own)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.assessments import ASSESSMENT_TAG_SYSTEM, WRITTEN_TYPES

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
    yield context.new_page()
    context.close()


@pytest.fixture
def written(fhir: dict[str, httpx.Client]) -> Iterator[list[str]]:
    """References of the checklists a test saves; afterwards, what they wrote to the unit's record is deleted.

    Each written resource carries its assessment's tag. Deleting them keeps the sandbox families as described,
    so a later test (in any folder) sees the same safeguarding picture whatever order the tests run in.
    """
    references: list[str] = []
    yield references
    neonatal = fhir["neonatal"]
    for reference in references:
        for kind in WRITTEN_TYPES:
            found = neonatal.get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}&_count=500").raise_for_status()
            for entry in found.json().get("entry") or []:
                neonatal.delete(f"{kind}/{entry['resource']['id']}").raise_for_status()
            left = neonatal.get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").raise_for_status().json()
            assert not left.get("entry"), f"{kind} written by {reference} is still on the record"
