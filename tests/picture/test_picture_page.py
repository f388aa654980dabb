"""The picture page says, per person and per source, what was checked, in words (issue 12 items 5 and 7)."""

from __future__ import annotations

import html
import re

from tests.families import BORROWED_BABY, CASE_V_BABY, NO_CONCERNS_BABY, NO_NHS_NUMBER_BABY


def person_row(page: str, role: str) -> str:
    match = re.search(rf'<tr class="nhsuk-table__row" data-person="{role}">(.*?)</tr>', page, re.S)
    assert match, f"no {role} row"
    return html.unescape(match.group(1))


def check(row: str, source: str) -> tuple[str, str]:
    match = re.search(rf'<li data-source="{source}" data-check="([a-z-]+)">(.*?)</li>', row, re.S)
    assert match, f"no {source} check"
    return match.group(1), " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())


def test_an_identity_mismatch_is_shown_in_words_and_the_strangers_records_are_not(live):
    with live.browser("nurse") as nurse:
        page = nurse.get(f"/patients/{BORROWED_BABY}").text

    status, words = check(person_row(page, "father"), "police-gp")
    assert status == "identity-mismatch"
    assert "Identity mismatch: records not shown" in words and "confirm the number with them" in words
    assert "Almond" not in page and "Suspected domestic abuse" not in page
    assert 'data-source="police-gp" data-status="partial"' in page
    assert "39+1 weeks" in page


def test_a_mother_without_an_nhs_number_reads_not_checked_on_every_source(live):
    with live.browser("nurse") as nurse:
        page = nurse.get(f"/patients/{NO_NHS_NUMBER_BABY}").text

    row = person_row(page, "mother")
    assert "none recorded" in row and "Identity not verified" in row
    for source in ("neonatal", "maternity", "social-care", "cpis", "police-gp"):
        status, words = check(row, source)
        assert status == "not-checked" and "Not checked" in words and "no NHS number" in words
        assert "none found" not in words.lower()
    assert 'data-status="none-found"' not in page
    assert "Language: Hungarian" in row  # from the unit's record of her as the baby's mother


def test_not_known_to_a_source_is_not_none_found(live):
    with live.browser("nurse") as nurse:
        page = nurse.get(f"/patients/{NO_CONCERNS_BABY}").text

    assert check(person_row(page, "baby"), "maternity") == ("not-known", "Maternity record: Not known to this source")
    assert check(person_row(page, "mother"), "maternity")[0] == "none-found"


def test_case_v_shows_the_interpreter_need_gestation_and_whose_record_holds_the_fathers_alcohol(live):
    with live.browser("nurse") as nurse:
        page = nurse.get(f"/patients/{CASE_V_BABY}").text

    assert "Interpreter needed: Polish" in person_row(page, "mother")
    assert "26+0 weeks" in page and "(preterm)" in page
    records = page[page.index('data-testid="records"') :]  # the records table, below the summary that names it too
    alcohol = re.search(r"Alcohol abuse by father.*?</tr>", records, re.S).group(0)
    assert "Paweł BRZOZAK" in html.unescape(
        alcohol
    ) and "on the record of Agnieszka LISOWIEC (mother)" in html.unescape(alcohol)


def groups(item: dict, link_id: str) -> list[dict]:
    found = [item] if item.get("linkId") == link_id else []
    return found + [g for child in item.get("item", []) for g in groups(child, link_id)]


def answers(group: dict, link_id: str) -> list:
    return [
        a.get("valueCoding", {}).get("code") or a.get("valueString")
        for i in groups(group, link_id)
        for a in i.get("answer", [])
    ]


def test_the_admission_prefill_ticks_the_fathers_alcohol_not_the_mothers(live):
    with live.client("nurse") as api:
        prefilled = api.get(f"/api/patients/{CASE_V_BABY}/checklists/admission").raise_for_status().json()

    parents = {
        answers(g, "A6-parental-risk-factors.parent.name")[0]: g
        for g in groups(prefilled, "A6-parental-risk-factors.parent")
    }
    mother = answers(parents["Agnieszka LISOWIEC"], "A6-parental-risk-factors.parent.factors")
    father = answers(parents["Paweł BRZOZAK"], "A6-parental-risk-factors.parent.factors")
    assert "alcohol-or-drug-misuse" not in mother and "371772001" in mother
    assert "alcohol-or-drug-misuse" in father
