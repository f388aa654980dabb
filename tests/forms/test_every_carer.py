"""Every man and every carer (issue 12, item 3), through the forms engine on the real checklists.

A5 has one entry per man in the household (pre-filled from the picture, more can be added), each seen yes / no /
not known, with a date or a plan. D6 records ICON for everyone who will care for the baby, extended family included,
leaving a person out only when D5 says they will not care. D5 "cares alone" makes ICON and being seen required for
that person.
"""

from __future__ import annotations

import copy
from pathlib import Path

from app.forms import enabled_paths, load_checklists, populate, validate, with_every_item

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS = load_checklists(ROOT / "checklists")
ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"


def person(role: str, name: str, *, male: bool = False) -> dict:
    return {"role": role, "name": name, "nhsNumber": None, "verified": False, "relationship": "", "maleCarer": male}


MOTHER, FATHER = person("mother", "Anna V"), person("father", "Piotr V", male=True)
PARTNER, GRANDMOTHER = person("partner", "Tom P", male=True), person("other", "Maria V")
SIBLING = person("sibling", "Ola V")


def picture(*people: dict) -> dict:
    baby = person("baby", "Baby V")
    return {"records": [], "sources": [], "people": [baby, *people], "baby": {}, "openTasks": 0}


def env(pic: dict) -> dict:
    return {"picture": pic, "patient": {}, "encounter": {}}


def prefilled(checkpoint: str, pic: dict) -> dict:
    q = CHECKLISTS.for_checkpoint(checkpoint)
    return populate(q, env=env(pic), subject={"display": "Baby V"}, encounter=None).response


def entries(response: dict, link_id: str) -> list[dict]:
    found, stack = [], list(response["item"])
    while stack:
        item = stack.pop(0)
        if item["linkId"] == link_id:
            found.append(item)
        stack.extend(item.get("item") or [])
    return found


def answer(entry: dict, link_id: str, value: dict) -> None:
    next(i for i in entry["item"] if i["linkId"] == link_id)["answer"] = [value]


def code(value: str) -> dict:
    return {"valueCoding": {"system": ITEM, "code": value}}


def enabled(checkpoint: str, response: dict, pic: dict) -> set[str]:
    q = CHECKLISTS.for_checkpoint(checkpoint)
    return enabled_paths(q, with_every_item(q, response), env(pic))


def issues(checkpoint: str, response: dict, pic: dict) -> dict[str, str]:
    return {i.path: i.link_id for i in validate(CHECKLISTS.for_checkpoint(checkpoint), response, env(pic))}


def names(response: dict, link_id: str) -> list[str]:
    return [a["valueString"] for e in entries(response, link_id) for a in e.get("answer") or []]


# ---------------------------------------------------------------- A5


def test_a5_has_one_entry_per_man_found_and_none_for_women_or_children():
    pic = picture(MOTHER, FATHER, PARTNER, SIBLING, GRANDMOTHER)
    response = prefilled("admission", pic)

    assert names(response, "A5-father-seen.man.name") == ["Piotr V", "Tom P"]
    assert "A5-father-seen~0" in enabled("admission", response, pic)


def test_a5_not_known_opens_the_plan_as_no_does_and_yes_asks_the_date():
    pic = picture(MOTHER, FATHER, PARTNER)
    response = prefilled("admission", pic)
    piotr, tom = entries(response, "A5-father-seen.man")
    answer(piotr, "A5-father-seen.man.seen", code("yes"))
    answer(tom, "A5-father-seen.man.seen", code("not-known"))

    shown = enabled("admission", response, pic)
    assert "A5-father-seen~0/A5-father-seen.man~0/A5-father-seen.man.date~0" in shown
    assert "A5-father-seen~0/A5-father-seen.man~0/A5-father-seen.man.plan~0" not in shown
    assert "A5-father-seen~0/A5-father-seen.man~1/A5-father-seen.man.plan~0" in shown
    assert "A5-father-seen~0/A5-father-seen.man~1/A5-father-seen.man.date~0" not in shown
    missing = issues("admission", response, pic)
    assert "A5-father-seen~0/A5-father-seen.man~1/A5-father-seen.man.plan~0" in missing  # a plan is required
    assert "A5-father-seen~0/A5-father-seen.man~0/A5-father-seen.man.date~0" in missing


def test_a5_each_man_must_be_answered_for_one_left_blank_is_refused():
    pic = picture(MOTHER, FATHER, PARTNER)
    response = prefilled("admission", pic)
    answer(entries(response, "A5-father-seen.man")[0], "A5-father-seen.man.seen", code("yes"))

    assert issues("admission", response, pic)["A5-father-seen~0/A5-father-seen.man~1/A5-father-seen.man.seen~0"]


def test_a5_a_man_the_nurse_adds_is_asked_about_as_one_found():
    pic = picture(MOTHER, FATHER)
    response = prefilled("admission", pic)
    a5 = entries(response, "A5-father-seen")[0]
    added = copy.deepcopy(entries(response, "A5-father-seen.man")[0])
    for item in added["item"]:
        item.pop("answer", None)
    answer(added, "A5-father-seen.man.name", {"valueString": "Unrecorded uncle"})
    a5["item"].append(added)

    assert "A5-father-seen~0/A5-father-seen.man~1/A5-father-seen.man.seen~0" in issues("admission", response, pic)


def test_a5_is_asked_when_a4_records_a_man_nobody_found_and_not_when_there_is_none():
    pic = picture(MOTHER)
    response = prefilled("admission", pic)
    assert "A5-father-seen~0" not in enabled("admission", response, pic)  # A4 says why no man is recorded

    for item in entries(response, "A4-household.father-recorded"):
        item["answer"] = [code("yes")]
    assert "A5-father-seen~0" in enabled("admission", response, pic)
    assert "A5-father-seen~0/A5-father-seen.man~0/A5-father-seen.man.name~0" in issues("admission", response, pic)


# ---------------------------------------------------------------- D5, D6


def test_d6_has_an_entry_for_everyone_d5_lists_extended_family_included():
    response = prefilled("discharge", picture(MOTHER, FATHER, GRANDMOTHER, SIBLING))

    assert names(response, "D6-icon.carer.name") == names(response, "D5-carers.person.name")
    assert names(response, "D6-icon.carer.name") == ["Anna V", "Piotr V", "Maria V", "Ola V"]
    roles = [a["valueCoding"]["code"] for e in entries(response, "D6-icon.carer.role") for a in e["answer"]]
    assert roles == ["person-role-mother", "person-role-father", "person-role-other", "person-role-sibling"]


def test_d6_leaves_out_only_a_person_d5_says_will_not_care_for_the_baby():
    pic = picture(MOTHER, FATHER, GRANDMOTHER, SIBLING)
    response = prefilled("discharge", pic)
    will_care = dict(zip(["Anna V", "Piotr V", "Maria V", "Ola V"], ["yes", "not-known", "yes", "no"], strict=True))
    for entry in entries(response, "D5-carers.person"):
        name = next(i for i in entry["item"] if i["linkId"] == "D5-carers.person.name")["answer"][0]["valueString"]
        answer(entry, "D5-carers.person.will-care", code(will_care[name]))

    shown = enabled("discharge", response, pic)
    assert [f"D6-icon~0/D6-icon.carer~{n}" in shown for n in range(4)] == [True, True, True, False]
    missing = issues("discharge", response, pic)
    assert "D6-icon~0/D6-icon.carer~2/D6-icon.carer.status~0" in missing  # the grandmother's ICON is asked for
    assert not any(p.startswith("D6-icon~0/D6-icon.carer~3") for p in missing)


def test_d6_a_name_that_differs_from_d5_is_asked_about_not_dropped():
    pic = picture(MOTHER, FATHER)
    response = prefilled("discharge", pic)
    for entry in entries(response, "D5-carers.person"):
        answer(entry, "D5-carers.person.will-care", code("no"))
    answer(entries(response, "D6-icon.carer")[1], "D6-icon.carer.name", {"valueString": "Piotr Nowak"})

    shown = enabled("discharge", response, pic)
    assert "D6-icon~0/D6-icon.carer~0" not in shown and "D6-icon~0/D6-icon.carer~1" in shown


def test_d5_caring_alone_requires_being_seen_and_icon_for_that_person():
    pic = picture(MOTHER, FATHER)
    response = prefilled("discharge", pic)
    mother, father = entries(response, "D5-carers.person")
    for entry in (mother, father):
        answer(entry, "D5-carers.person.will-care", code("yes"))
    answer(mother, "D5-carers.person.alone", code("no"))
    answer(father, "D5-carers.person.alone", code("yes"))

    missing = issues("discharge", response, pic)
    assert "D5-carers~0/D5-carers.person~1/D5-carers.person.alone-icon~0" in missing
    assert "D5-carers~0/D5-carers.person~1/D5-carers.person.seen~0" in missing
    assert "D5-carers~0/D5-carers.person~0/D5-carers.person.alone-icon~0" not in missing
    assert "D6-icon~0/D6-icon.carer~1/D6-icon.carer.status~0" in missing

    answer(father, "D5-carers.person.alone-icon", code("icon-not-yet-given"))  # valid, a finding for the hold
    answer(father, "D5-carers.person.seen", code("no"))
    missing = issues("discharge", response, pic)
    assert not any(p.startswith("D5-carers~0/D5-carers.person~1/") for p in missing)

    answer(mother, "D5-carers.person.alone", code("not-known"))  # unknown is not no: she may care alone
    assert "D5-carers~0/D5-carers.person~0/D5-carers.person.alone-icon~0" in issues("discharge", response, pic)
