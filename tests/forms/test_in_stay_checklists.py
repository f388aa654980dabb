"""The in-stay checklists (72-hour review, weekly prompt, day-7 father check) follow the same house conventions
as the admission, transfer and discharge ones (test_checklist_files' checks, run on them here), and ask what the
content asks."""

import json
import re

import pytest
from fhirpathpy import evaluate

from app.checkpoints.schedule import IN_STAY
from tests.forms import test_checklist_files as house

PREFIX = {"review-72h": "R", "weekly": "W", "father-day7": "F"}


def test_every_in_stay_check_has_a_checklist():
    assert set(PREFIX) == set(IN_STAY)


@pytest.mark.parametrize("name", IN_STAY)
def test_names_and_launch_contexts_follow_the_house_style(name):
    q = house.load(name)
    assert (q["resourceType"], q["id"], q["version"], q["status"]) == ("Questionnaire", name, "1.1.0", "active")
    assert q["url"] == f"https://neosafe.org.uk/fhir/Questionnaire/{name}"
    assert q["subjectType"] == ["Patient"]
    assert q["title"].startswith("Safeguarding checklist: ")
    assert q["code"] == [{"system": house.NEOSAFE, "code": f"{name}-checklist", "display": q["title"]}]
    assert {e["url"] for e in q["extension"]} == house.ROOT_EXTENSIONS
    contexts = {
        (e["extension"][0]["valueCoding"]["code"], e["extension"][1]["valueCode"])
        for e in q["extension"]
        if e["url"].endswith("launchContext")
    }
    assert contexts == {("patient", "Patient"), ("encounter", "Encounter"), ("user", "Practitioner")}


@pytest.mark.parametrize("name", IN_STAY)
def test_link_ids_readable(name):
    for item in house.all_items(house.load(name)):
        assert re.match(rf"^{PREFIX[name]}\d+-[a-z0-9-]+(\.[a-z0-9-]+)*$", item["linkId"]), item["linkId"]


@pytest.mark.parametrize("name", IN_STAY)
def test_items_follow_the_house_conventions(name):
    """Help on every item, one code per question, required stated, Not known wherever yes/no is offered."""
    house.test_items_follow_conventions(name)
    house.test_every_checklist_item_is_required_when_shown(name)
    house.test_not_known_offered_wherever_yes_no_is_a_choice(name)
    for item in house.all_items(house.load(name)):
        if item["type"] in ("string", "text"):
            assert isinstance(item.get("maxLength"), int), item["linkId"]


@pytest.mark.parametrize("name", IN_STAY)
def test_every_code_is_the_neosafe_codesystems(name):
    """No SNOMED CT code is used (none is verified for these questions); every code is defined, with its display."""
    defined = {c["code"]: c["display"] for c in house.codesystem()["concept"]}
    for link, coding in house.codings(house.load(name)):
        assert coding["system"] == house.NEOSAFE, link
        assert defined.get(coding["code"]) == coding["display"], (link, coding)


@pytest.mark.parametrize("picture", house.PICTURES, ids=list(house.PICTURES))
@pytest.mark.parametrize("name", IN_STAY)
def test_every_expression_evaluates(name, picture):
    house.test_every_expression_evaluates(name, picture)


def test_the_father_check_has_an_entry_for_every_male_carer_prefilled():
    q = house.load("father-day7")
    people = [
        {**house.BABY, "maleCarer": False},
        {**house.MOTHER, "maleCarer": False},
        {**house.FATHER, "maleCarer": True},
        {**house.person("partner", "Tom P"), "maleCarer": True},
        {**house.person("carer", "Grandad V"), "maleCarer": True},
    ]
    picture = {**house.CASE_V, "people": people}
    men = evaluate({}, house.expr_of(q, "F1-male-carers.man", house.EXT_POP), house.env(q, picture))
    assert [m["name"] for m in men] == ["Piotr V", "Tom P", "Grandad V"]
    assert house.find(q, "F1-male-carers.man")["repeats"] is True  # a man nobody recorded can be added
    roles = [house.run(q, "F1-male-carers.man.role", house.EXT_INITIAL, picture, man=m)[0]["code"] for m in men]
    assert roles == ["person-role-father", "person-role-partner", "person-role-carer"]
    plan = house.find(q, "F1-male-carers.man.plan")
    assert plan["required"] is True
    assert {w["answerCoding"]["code"] for w in plan["enableWhen"]} == {"no", "not-known"}  # unknown is not no
    assert house.find(q, "F2-unrecorded-male-carer.any")["required"] is True


def test_the_weekly_prompt_asks_about_injuries_then_the_nim_protocol_and_about_visiting():
    q = house.load("weekly")
    details = house.find(q, "W1-unexplained-injury.details")
    assert {w["answerCoding"]["code"] for w in details["enableWhen"]} == {"yes", "not-known"}
    nim = house.find(q, "W1-unexplained-injury.nim-protocol")
    assert nim["required"] is True and [w["answerCoding"]["code"] for w in nim["enableWhen"]] == ["yes"]
    assert house.find(q, "W2-visiting-engagement.concern")["required"] is True


def test_the_72_hour_review_asks_every_source_again_and_what_the_admission_left_open():
    q = house.load("review-72h")
    sources = evaluate(
        {}, house.expr_of(q, "R1-sources-rechecked.source", house.EXT_POP), house.env(q, house.SOURCE_DOWN)
    )
    assert [s["status"] for s in sources][2:4] == ["unavailable", "not-configured"]
    retry = house.find(q, "R1-sources-rechecked.source.retry-plan")
    assert retry["required"] is True and {w.get("answerString") for w in retry["enableWhen"]} >= {"unavailable"}
    for link in ("R2-new-since-admission.any", "R3-admission-actions.open", "R4-concern-now.concern"):
        assert house.find(q, link)["required"] is True


@pytest.mark.parametrize("name", IN_STAY)
def test_timings_are_marked_for_clinical_review(name):
    """In the README's review notes, where a clinical safety lead reads them; never on the form (lint)."""
    assert "Proposal for clinical review" in house.review_notes(name)
    assert "Proposal for clinical review" not in json.dumps(house.load(name))
