"""The picture of each synthetic family of the scenarios (sandbox/families/README.md), over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import write_sources
from tests.families import (
    CASE_V_BABY,
    FATHER_UNKNOWN_BABY,
    FATHER_UNKNOWN_PARTNER,
    LOOKED_AFTER_BABY,
    MID_STAY_BABY,
    OPIOIDS_BABY,
    OPIOIDS_MOTHER,
    OUT_OF_AREA_BABY,
    OUT_OF_AREA_FATHER,
    OUT_OF_AREA_HALF_SIBLING,
    SOURCE_DOWN_BABY,
    SOURCE_DOWN_MOTHER,
    TEEN_BABY,
    TEEN_FATHER,
    TEEN_MOTHER,
    TWIN_1,
    TWIN_2,
    TWINS_MOTHER,
)
from tests.picture.test_gather import picture_of, status_of

CASE_V = Path(__file__).resolve().parents[2] / "sandbox" / "families" / "01-case-v"


def records(picture, **match) -> list:
    return [r for r in picture.records if all(getattr(r, k) == v for k, v in match.items())]


async def test_case_v_shows_only_what_was_seeded_whatever_ran_before(sources):
    # Many tests read and write for Case V: any of them leaving a record behind changes the family for the rest.
    picture = await picture_of(CASE_V_BABY, sources)

    seeded = {
        f"{bundle.stem}/{entry['resource']['resourceType']}/{entry['resource']['id']}"
        for bundle in CASE_V.glob("*.json")
        for entry in json.loads(bundle.read_text(encoding="utf-8"))["entry"]
    }
    keys = {r.key for r in picture.records}
    assert keys and not keys - seeded, f"not seeded: {sorted(keys - seeded)}"
    assert picture.open_tasks == []


async def test_source_down_family_says_not_checked_where_the_history_is(sandbox, sources, tmp_path: Path):
    up = await picture_of(SOURCE_DOWN_BABY, sources)
    down_sources = write_sources(sandbox, tmp_path, overrides={"social-care": "http://127.0.0.1:9/fhir"})
    down = await picture_of(SOURCE_DOWN_BABY, down_sources)

    assert {(r.code, r.current) for r in records(up, person_nhs_number=SOURCE_DOWN_MOTHER)} == {
        ("135891007", False),
        ("169944002", True),
    }
    assert down.records == []
    assert status_of(down)["social-care"] == "unavailable"
    mother = next(p for p in down.people if p.role == "mother")
    assert mother.checks["social-care"].status == "unavailable"
    assert mother.checks["social-care"].detail.startswith("not checked")


async def test_looked_after_baby(sources):
    picture = await picture_of(LOOKED_AFTER_BABY, sources)

    current = {r.category for r in picture.records if r.current and r.person_nhs_number == LOOKED_AFTER_BABY}
    assert "looked-after" in current
    assert records(picture, category="uncategorised-flag")  # "supervised contact only" is a local flag


async def test_maternal_opioid_use(sources):
    picture = await picture_of(OPIOIDS_BABY, sources)

    assert records(picture, code="206572008", person_nhs_number=OPIOIDS_BABY, current=True)
    assert records(picture, code="442080007", person_nhs_number=OPIOIDS_MOTHER, current=True)
    assert records(picture, code="836931000000102", current=True)


async def test_father_unknown_but_a_new_partner_with_records(sources):
    picture = await picture_of(FATHER_UNKNOWN_BABY, sources)

    assert not picture.father_recorded
    partner = next(p for p in picture.people if p.role == "partner")
    assert partner.nhs_number == FATHER_UNKNOWN_PARTNER and partner.male_carer
    partner_records = records(picture, person_nhs_number=FATHER_UNKNOWN_PARTNER)
    assert {r.code for r in partner_records} == {"1076171000000104", "895141000000105"}
    assert any(r.restricted for r in partner_records)


async def test_twins_share_the_records_about_their_parents(sources):
    one, two = await picture_of(TWIN_1, sources), await picture_of(TWIN_2, sources)

    about_mother = {r.key for r in records(one, person_nhs_number=TWINS_MOTHER)}
    assert about_mother and about_mother == {r.key for r in records(two, person_nhs_number=TWINS_MOTHER)}
    assert any(p.nhs_number == TWIN_2 and p.role == "sibling" for p in one.people)
    assert one.encounter["id"] != two.encounter["id"]  # a checklist for each baby, each on its own stay


async def test_mid_stay_transfer_shows_what_is_pending(sources):
    picture = await picture_of(MID_STAY_BABY, sources)

    referral = records(picture, resource_type="ServiceRequest")
    assert [(r.code, r.current) for r in referral] == [("380491000000101", True)]
    assert records(picture, code="700411009")  # the DA enquiry was declined
    assert records(picture, code="895141000000105", restricted=True)


async def test_teenage_parents_who_were_looked_after(sources):
    picture = await picture_of(TEEN_BABY, sources)

    for parent in (TEEN_MOTHER, TEEN_FATHER):
        history = records(picture, person_nhs_number=parent, category="looked-after")
        assert {r.resource_type for r in history} == {"CarePlan", "EpisodeOfCare"}
        assert not any(r.current for r in history)
    assert records(picture, code="1010196001", person_nhs_number=TEEN_BABY, current=True)


async def test_a_fathers_earlier_child_in_another_area_surfaces(sources):
    picture = await picture_of(OUT_OF_AREA_BABY, sources)

    flag = records(picture, code="375041000000100", person_nhs_number=OUT_OF_AREA_FATHER)
    assert flag and not flag[0].current
    earlier_child = records(picture, person_nhs_number=OUT_OF_AREA_HALF_SIBLING)
    assert [(r.code, r.current) for r in earlier_child] == [("342191000000101", False)]
    assert "Castlebridge" in (earlier_child[0].organisation or "")
