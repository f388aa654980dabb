"""The API docs in a real browser: sign in first, then Swagger UI, served by NeoSafe, runs under the strict policy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_a_signed_in_user_reads_the_api_docs_with_nothing_blocked_and_nothing_fetched_elsewhere(live, page: Page):
    with live.client("nurse") as api:
        schema = api.get("/openapi.json").raise_for_status().json()
    every_operation = sum(len(operations) for operations in schema["paths"].values())

    page.goto(live.url + "/docs")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fdocs$"))
    page.get_by_role("button", name="Neonatal nurse: Alex Morgan").click()
    expect(page).to_have_url(live.url + "/docs")

    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith((live.url, "data:")) else elsewhere.append(r.url))
    page.reload()  # the docs page afresh, everything it loads seen
    expect(page.get_by_role("heading", name=re.compile(r"^NeoSafe"))).to_be_visible()
    operations = page.locator(".opblock-summary-path")
    expect(operations).to_have_count(every_operation)
    expect(page.locator('.opblock-summary-path[data-path="/api/patients/{number}/picture"]')).to_be_visible()

    page.locator(".opblock-post .opblock-summary-path", has_text=re.compile(r"/assessments$")).click()
    responses = page.locator(".opblock.is-open .responses-table .response-col_status")
    expect(responses.first).to_be_visible()
    assert {"201", "401", "404", "409", "422"} <= {code.strip() for code in responses.all_inner_texts()}
    assert errors == []  # no Content Security Policy refusal, no script error
    assert elsewhere == []  # no CDN, no validator badge: every request went to NeoSafe
