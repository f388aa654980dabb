"""What NeoSafe filled in as keys (a source's name, what it found) reads in words wherever a saved checklist is
read back: the saved checklist page and the handover, as on the form (issue 13 item 2: no raw codes)."""

from __future__ import annotations

import re

from tests.answering import completed, submitted
from tests.factories import create_baby

ANSWERS = re.compile(r'<dl class="nhsuk-summary-list neosafe-answers">.*?</dl>', re.S)
RAW = re.compile(r">\s*(none-found|not-known|not-configured|unavailable|found|neonatal|cpis|police-gp)\s*<")


def test_the_saved_checklist_and_the_handover_name_each_source_and_what_it_found_in_words(live, api, fhir):
    baby = create_baby(fhir["neonatal"])
    saved = submitted(api, baby, completed(api, baby))

    with live.browser("nurse") as browser:
        pages = {
            "saved checklist": browser.get(f"/patients/{baby}/assessments/{saved}").raise_for_status().text,
            "handover": browser.get(f"/patients/{baby}/handover").raise_for_status().text,
        }

    answers = {name: "".join(ANSWERS.findall(page)) for name, page in pages.items()}
    assert "Neonatal unit record (EPR)" in answers["saved checklist"]  # A1, one entry per source
    assert "Checked: none found" in answers["saved checklist"]
    assert {name: RAW.findall(text) for name, text in answers.items()} == {"saved checklist": [], "handover": []}
