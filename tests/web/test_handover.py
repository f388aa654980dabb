"""The handover summary for the community team: the picture, then what each newest checklist recorded.

Over HTTP against the sandbox: every section names the checklist and date its answers came from, a checklist
not yet completed is "not yet recorded" (never "none"), an amendment is what the summary shows, restricted
detail follows the reader's role, and the PDF is a PDF that nobody's cache keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import ConfigError
from app.forms import CHECKPOINTS, load_checklists
from app.handover import load_recipients, load_sections
from tests.answering import completed, items_with, submitted
from tests.factories import create, create_baby, make_flag
from tests.families import CASE_V_BABY

ROOT = Path(__file__).resolve().parents[2]
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
CHECKLISTS = load_checklists(ROOT / "checklists")
SECTIONS = load_sections(ROOT / "fhir_mappings" / "handover.toml", CHECKLISTS)


@pytest.fixture
def pages(live) -> Iterator:
    """A signed-in browser-like client per role, as the pages see them (a cookie, not a bearer token)."""
    clients: list[httpx.Client] = []

    def signed_in(role: str) -> httpx.Client:
        clients.append(live.browser(role))
        return clients[-1]

    yield signed_in
    for client in clients:
        client.close()


def submit_admission(live, baby: str) -> str:
    with live.client("nurse") as api:
        return submitted(api, baby, completed(api, baby))


# What a summary made at discharge asks of a baby's checklists: every one its sections draw on but the transfer
# (in CHECKPOINTS' order); the in-stay checks by their titles.
EXPECTED_AT_DISCHARGE = [
    c for c in CHECKPOINTS if c != "transfer" and any(not s.key and c == i[0] for s in SECTIONS for i in s.items)
]


def parts_of(*checkpoints: str) -> int:
    return sum(1 for s in SECTIONS if not s.key for checkpoint, _ in s.items if checkpoint in checkpoints)


def titles(*checkpoints: str) -> list[str]:
    return [CHECKLISTS.short_title(c) for c in checkpoints]


def test_before_any_checklist_every_part_is_not_yet_recorded_and_the_picture_is_there(pages, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001")

    page = pages("community-nurse").get(f"/patients/{baby}/handover")

    assert page.status_code == 200
    html = page.text
    assert 'data-testid="handover-missing"' in html
    # a baby going home was not necessarily transferred: no transfer checklist is asked for at discharge
    assert f"Not yet completed for this baby: {', '.join(titles(*EXPECTED_AT_DISCHARGE))}." in html
    assert html.count('data-testid="not-yet-recorded"') == parts_of(*EXPECTED_AT_DISCHARGE)
    assert 'data-testid="records"' in html and "Safeguarding concern" in html


def test_historic_records_of_the_case_v_family_are_handed_over(pages):
    html = pages("community-nurse").get(f"/patients/{CASE_V_BABY}/handover").text

    assert "Zofia BRZOZAK" in html and "999 010 1000" in html and "20 November 2026" in html
    assert "Child in need" in html and "12 May 2024 to 20 March 2025" in html  # closed, and still handed over


def test_each_section_carries_the_newest_checklists_answers_with_where_they_came_from(live, pages, fhir):
    baby = create_baby(fhir["neonatal"])
    first = submit_admission(live, baby)
    with live.client("nurse") as api:
        response = api.get(f"/api/patients/{baby}/assessments/{first}/versions").json()[-1]
        for item in items_with(response, "A10-concern-now.concern"):
            item["answer"] = [{"valueBoolean": True}]
        parent = next(i for i in response["item"] if i["linkId"] == "A10-concern-now")
        parent["item"].append(
            {"linkId": "A10-concern-now.details", "answer": [{"valueString": "Bruise on the left arm"}]}
        )
        amended = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response)
        assert amended.status_code == 201, amended.text

    html = pages("community-nurse").get(f"/patients/{baby}/handover").text

    still = [c for c in EXPECTED_AT_DISCHARGE if c != "admission"]
    assert f"Not yet completed for this baby: {', '.join(titles(*still))}." in html
    assert html.count('data-testid="not-yet-recorded"') == parts_of(*still)
    assert "A7. Each parent&#39;s language and interpreter need" in html
    assert "(amended: version 2)" in html
    assert first in html and amended.json()["id"] not in html  # one reference for the checklist, its first version
    concern = re.search(r"Is there any concern now that needs advice or a referral\?</dt>\s*<dd[^>]*>\s*(\w+)", html)
    assert concern and concern.group(1) == "Yes"
    assert "Bruise on the left arm" in html


def test_restricted_detail_follows_the_readers_role(pages, fhir):
    baby = create_baby(fhir["neonatal"])
    police = make_flag(
        f"nn-test-{baby}",
        "895141000000105",
        meta={"security": [{"system": CONFIDENTIALITY, "code": "R"}]},
    )
    create(fhir["neonatal"], police)

    community = pages("community-nurse").get(f"/patients/{baby}/handover").text
    lead = pages("safeguarding-lead").get(f"/patients/{baby}/handover").text

    assert "Restricted record: ask the safeguarding team for the detail" in community
    assert "Police domestic incident report received" not in community
    assert "Police domestic incident report received" in lead


def test_the_pdf_is_a_pdf_for_that_baby_that_no_cache_keeps(pages, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001")

    pdf = pages("community-nurse").get(f"/patients/{baby}/handover.pdf")

    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"] == f'attachment; filename="safeguarding-handover-{baby}.pdf"'
    assert "no-store" in pdf.headers["cache-control"]


def test_the_handover_needs_a_signed_in_user(live):
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        for path in (f"/patients/{CASE_V_BABY}/handover", f"/patients/{CASE_V_BABY}/handover.pdf"):
            assert anonymous.get(path).status_code in (302, 303, 307)


def test_a_section_naming_an_item_the_checklist_lacks_fails_at_start_up(tmp_path):
    broken = tmp_path / "handover.toml"
    broken.write_text('[[sections]]\ntitle = "Carers"\nitems = ["discharge:D5-carers", "discharge:D99-gone"]\n')

    with pytest.raises(ConfigError, match="discharge checklist has no top-level item 'D99-gone'"):
        load_sections(broken, CHECKLISTS)


def test_recipients_naming_a_question_the_discharge_checklist_lacks_fail_at_start_up(tmp_path):
    broken = tmp_path / "handover.toml"
    text = (ROOT / "fhir_mappings" / "handover.toml").read_text(encoding="utf-8")
    broken.write_text(text.replace('sent = "D10-handover.recipient.sent"', 'sent = "D10-handover.recipient.posted"'))

    with pytest.raises(ConfigError, match=r"\[recipients\]: sent must name a discharge checklist item"):
        load_recipients(broken, CHECKLISTS)


def test_the_api_gives_the_same_summary_as_data(live, fhir):
    baby = create_baby(fhir["neonatal"])
    admission = submit_admission(live, baby)
    with live.client("community-nurse") as api:
        summary = api.get(f"/api/patients/{baby}/handover")

    assert summary.status_code == 200
    body = summary.json()
    still = [c for c in EXPECTED_AT_DISCHARGE if c != "admission"]
    assert body["not_yet_recorded"] == still
    assert [c["assessment_id"] for c in body["checklists"]] == [admission]
    parts = [p for s in body["sections"] for p in s["parts"]]
    assert sum(p["lines"] is None for p in parts) == parts_of(*still)  # null, never empty
    language = next(p for p in parts if p["title"].startswith("A7."))
    assert language["recorded"] == admission and language["lines"]
    assert body["picture"]["baby"]["nhs_number"] == baby
