"""A handover the community team can act on (issue 13 items 3 and 4), over HTTP against the sandbox.

Key risks and actions come first; each task is listed once; only what applies to a baby going home is there, the
in-stay checks by their titles; a pending co-signature is said, and a co-signature reads as one, with the
checklist's one reference kept; the PDF is tagged (PDF/UA-1) and its first page is enough on its own.
"""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.answering import completed, submitted, with_a_concern
from tests.factories import create_baby

CONCERN_TASK = "Act on the safeguarding concern: advice or referral the same day"


@pytest.fixture
def going_home(live, fhir) -> tuple[str, str, str]:
    """A baby with a safeguarding flag, an admission that raised a same-day task, and a discharge checklist
    (which, with a record on file, awaits the named nurse's co-signature). Returns (baby, admission, discharge)."""
    baby = create_baby(fhir["neonatal"], "1010196001")
    with live.client("nurse") as api:
        admission = submitted(api, baby, with_a_concern(completed(api, baby), "Bruise on the left arm"))
        discharge = submitted(api, baby, completed(api, baby, "discharge"))
    return baby, admission, discharge


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_key_risks_and_actions_come_first_and_each_task_is_listed_once(live, going_home):
    baby, _, _ = going_home
    with live.browser("community-nurse") as community:
        html = community.get(f"/patients/{baby}/handover").text

    order = [
        'data-testid="key-risks"',
        'data-testid="safeguarding-summary"',  # the risk first, in words, as on every page about the baby
        "Actions still to do",
        'data-testid="key-facts"',
        'data-testid="handover-checklists"',
        "What the checklists recorded",
        'data-testid="sources"',
    ]
    assert [html.index(marker) for marker in order] == sorted(html.index(marker) for marker in order)
    # the task the admission raised, once, with its owner and due date, not again as a withheld "restricted" row
    assert html.count(CONCERN_TASK) == 1
    row = re.search(rf"<tr[^>]*>\s*<td[^>]*><strong>{re.escape(CONCERN_TASK)}.*?</tr>", html, re.S)
    assert row and "Same day" in row.group(0) and "no date given" not in row.group(0)
    assert 'data-testid="open-tasks"' not in html
    facts = text_of(html[html.index('data-testid="key-facts"') :].split("</dl>", 1)[0])
    for heading in ("Goes home to", "Named social worker", "safeguarding contact", "Follow-up arranged"):
        assert heading in facts
    goes_home = facts[facts.index("Goes home to") : facts.index("Named social worker")]
    # where the baby goes home to (D5's address: this baby's record has none, so the nurse's answer), then who
    assert goes_home.index("Recorded by the test (discharge)") < goes_home.index("Name: ")


def test_a_baby_going_home_gets_no_transfer_sections_and_the_in_stay_checks_by_title(live, going_home):
    baby, _, _ = going_home
    with live.browser("community-nurse") as community:
        html = community.get(f"/patients/{baby}/handover").text

    assert "T2. " not in html and "T5. " not in html and "transfer checklist" not in html
    assert "Weekly in-stay check" in html or "weekly in-stay check" in html
    assert "day-7 father or male carer check" in html
    for raw in ("father-day7", "review-72h", "weekly,", "(weekly checklist", "(discharge checklist"):
        assert raw not in text_of(html), raw


def test_a_pending_co_signature_is_said_and_a_co_signature_reads_as_one_with_the_same_reference(live, going_home):
    baby, _, discharge = going_home
    with live.browser("community-nurse") as community:
        pending = community.get(f"/patients/{baby}/handover").text
    assert 'data-testid="awaiting-cosignature"' in pending
    assert "awaiting co-signature by the named nurse for safeguarding" in pending

    with live.client("safeguarding-lead") as lead:
        signed = lead.post(f"/api/patients/{baby}/assessments/{discharge}/cosignature")
        assert signed.status_code == 201, signed.text
    with live.browser("community-nurse") as community:
        handover = community.get(f"/patients/{baby}/handover").text
        saved = community.get(f"/patients/{baby}/assessments/{signed.json()['id']}").text

    assert 'data-testid="awaiting-cosignature"' not in handover
    assert re.search(r"Co-signed by Chris Okafor \(Safeguarding lead\) at \d\d:\d\d on \d+ \w+ 20\d\d", handover)
    assert discharge in handover and signed.json()["id"] not in handover  # the checklist's one reference
    assert "(amended" not in handover
    reference = re.search(r'data-testid="reference">([^<]+)<', saved)
    assert reference and reference.group(1) == discharge
    assert re.search(r'data-testid="cosigned">Co-signed by Chris Okafor \(Safeguarding lead\) at ', saved)
    versions = text_of(saved.split('data-testid="versions"', 1)[1].split("</ol>", 1)[0])
    assert "completed by Alex Morgan (Neonatal nurse)" in versions and "co-signed by Chris Okafor" in versions
    assert "amended" not in versions and "demo-nurse" not in versions


def test_the_pdf_is_tagged_with_its_language_and_title_and_its_first_page_stands_alone(live, going_home):
    baby, _, _ = going_home
    with live.browser("community-nurse") as community:
        pdf = community.get(f"/patients/{baby}/handover.pdf")
    assert pdf.status_code == 200

    reader = PdfReader(io.BytesIO(pdf.content))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]  # tagged: a screen reader can read it
    assert root["/Lang"] == "en-GB"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    assert reader.metadata.title.startswith("Neonatal safeguarding handover summary")
    first = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    for said in (
        "Key risks and actions",
        "Safeguarding summary",
        "Actions still to do",
        CONCERN_TASK,
        "Awaiting co-signature",
    ):
        assert said in first, said
