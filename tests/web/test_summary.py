"""The safeguarding summary over HTTP (issue 13 item 1): the risk first, in words, ordered by severity, with what
was not checked always in it, on the baby page and every checklist page, for the sandbox families."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from app.main import create_app
from testkit.ports import free_port
from tests.conftest import make_settings, signed_in_browser, write_sources
from tests.families import (
    ACTIVE_CP_BABY,
    CASE_V_BABY,
    NO_CONCERNS_BABY,
    NO_NHS_NUMBER_BABY,
    SOURCE_DOWN_BABY,
)
from tests.servers import serving


def summary_of(page: str) -> str:
    """The summary's text, tags stripped, in reading order."""
    match = re.search(r'<section[^>]*data-testid="safeguarding-summary".*?</section>', page, re.S)
    assert match, "no safeguarding summary on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


def tiers(page: str) -> list[tuple[str, str]]:
    """(tier, its text) in the order the summary shows them."""
    section = re.search(r'data-testid="safeguarding-summary".*?</section>', page, re.S).group(0)
    return [
        (tier, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split()))
        for tier, body in re.findall(r'<dl class="[^"]*" data-tier="([a-z]+)">(.*?)</dl>', section, re.S)
    ]


@pytest.fixture(scope="module")
def social_care_down(sandbox, tmp_path_factory) -> Iterator[str]:
    """NeoSafe with the social-care source on a closed port."""
    directory = tmp_path_factory.mktemp("summary-down")
    sources = write_sources(sandbox, directory, overrides={"social-care": f"http://127.0.0.1:{free_port()}/fhir"})
    with serving(create_app(make_settings(directory), sources=sources)) as url:
        yield url


def test_case_v_summary_puts_historic_domestic_abuse_first_and_the_parking_permit_in_the_quiet_section(live):
    with signed_in_browser(live.url, "nurse") as nurse:
        page = nurse.get(f"/patients/{CASE_V_BABY}").text

    summary = summary_of(page)
    assert page.index('data-testid="safeguarding-summary"') < page.index('<h2 class="nhsuk-heading-m">Checklists</h2>')
    (first, serious), *rest = tiers(page)
    assert first == "serious"
    # historic, ended, and still the most prominent: severity decides, never the record's own status alone
    assert serious.startswith("Domestic abuse")
    assert "History of domestic abuse" in serious and "Agnieszka LISOWIEC, mother" in serious
    assert "Suspected domestic abuse" in serious and "Paweł BRZOZAK, father" in serious
    assert "14 January 2024 to 20 March 2025" in serious  # history never expires: dated, kept
    # the same notice about the same person is one line, with each of its dates
    assert serious.count("Police domestic incident report received") == 1
    assert (
        "10 April 2024, no longer current; 10 April 2024 to 10 April 2025; 15 January 2024, no longer current"
        in serious
    )
    assert "Child is cause for safeguarding concern" in serious
    assert "Parking permit" not in serious and "parking permit" not in " ".join(t for _, t in rest)
    admin = summary[summary.index("Administrative flags") :]
    assert "Parent parking permit issued" in admin and "current, since 21 November 2026" in admin
    assert summary.index("Domestic abuse") < summary.index("Administrative flags")
    # social care with its closure date and whether the closure is children's social care's own record
    history = dict(rest)["concern"]
    assert "Child in need" in history and "20 March 2025" in history
    assert "closure recorded by children's social care: confirm it with the local authority" in history
    assert "Social worker involved" in history
    assert "no closure recorded: ask children's social care whether it is still open" in history
    assert "Interpreter needed: Polish (Agnieszka LISOWIEC, mother)" in summary


def test_the_summary_is_in_words_not_counts_or_codes(live):
    with signed_in_browser(live.url, "nurse") as nurse:
        summary = summary_of(nurse.get(f"/patients/{CASE_V_BABY}").text)

    assert not re.search(r"\b\d+ (current|historic)\b", summary)
    for raw in ("cpis", "none-found", "not-configured", "police-gp", "social-care", "SEED", "uncategorised-flag"):
        assert raw not in summary
    assert not re.search(r"\[\d+\]", summary)


def test_a_current_child_protection_plan_is_serious_and_current(live):
    with signed_in_browser(live.url, "nurse") as nurse:
        page = nurse.get(f"/patients/{ACTIVE_CP_BABY}").text

    first, serious = tiers(page)[0]
    assert first == "serious" and serious.startswith("Child protection")
    assert re.search(r"current, since \d+ \w+ \d{4}", serious)


def test_a_source_that_is_down_is_in_the_summary_as_not_checked(social_care_down):
    with signed_in_browser(social_care_down, "nurse") as nurse:
        page = nurse.get(f"/patients/{SOURCE_DOWN_BABY}").text
        checklist = nurse.get(f"/patients/{SOURCE_DOWN_BABY}/checklists/admission").text

    for shown in (summary_of(page), summary_of(checklist)):
        assert "Not checked: records about this family may exist there" in shown
        assert "Children's social care: could not connect" in shown
        assert "none found" not in shown.lower() and "no concerns" not in shown.replace('"no concerns"', "")


def test_no_records_found_is_never_no_concerns(live):
    with signed_in_browser(live.url, "nurse") as nurse:
        summary = summary_of(nurse.get(f"/patients/{NO_CONCERNS_BABY}").text)

    assert "No safeguarding records were found in the sources that were checked." in summary
    assert 'This is not the same as "no concerns": you decide that.' in summary


def test_a_person_who_could_not_be_checked_is_named_in_the_summary(live):
    with signed_in_browser(live.url, "nurse") as nurse:
        summary = summary_of(nurse.get(f"/patients/{NO_NHS_NUMBER_BABY}").text)

    said = r"\w+ \w+, mother: not checked in Neonatal unit record \(EPR\), Maternity record, .*\(no NHS number\)"
    assert re.search(said, summary)
    assert "Maternity record: not checked for mother" not in summary  # said once, by the person, with her name


def test_every_checklist_page_opens_with_the_summary_and_the_picture_one_click_away(live):
    with signed_in_browser(live.url, "nurse") as nurse:
        for checkpoint in ("admission", "transfer", "discharge"):
            page = nurse.get(f"/patients/{CASE_V_BABY}/checklists/{checkpoint}").text
            assert "History of domestic abuse" in summary_of(page)
            start = page.index('data-testid="safeguarding-summary"')
            assert start < page.index('data-testid="picture-detail"') < page.index('id="checklist"')
            detail = re.search(r'<details class="nhsuk-details"([^>]*)data-testid="picture-detail"', page)
            assert detail and "open" not in detail.group(1)  # collapsed: the detail is one click away


def test_the_community_team_sees_that_a_restricted_record_exists_and_when_but_not_its_detail(live):
    with signed_in_browser(live.url, "community-nurse") as community:
        summary = summary_of(community.get(f"/patients/{CASE_V_BABY}").text)

    assert "Restricted record: ask the safeguarding team for the detail" in summary
    assert "Police domestic incident report received" not in summary
    assert "10 April 2024" in summary


@pytest.mark.parametrize("address", [f"/patients/{CASE_V_BABY}", f"/patients/{NO_NHS_NUMBER_BABY}"])
def test_the_baby_page_reads_in_words_with_no_codes_or_authoring_text(live, address):
    with signed_in_browser(live.url, "nurse") as nurse:
        page = nurse.get(address).text

    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.split("<main", 1)[1])).split())
    for raw in (
        "cpis",
        "none-found",
        "not-configured",
        "police-gp",
        "social-care",
        "SEED",
        "finished",
        "Mother (mother)",
    ):
        assert raw not in text, raw
    assert not re.search(r"\[\d+\]", text)
