"""Pre-fill from what the picture carries about people and the baby (issue 12 item 7), on the real checklists.

Language, interpreter need and date of birth come from the record; D7's gate from the stated gestation. What no
source states is left for the clinician: never "not needed", never "term".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.forms import enabled_paths, load_checklists, populate

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS = load_checklists(ROOT / "checklists")


def person(role: str, name: str, **fields: object) -> dict:
    base = {"role": role, "name": name, "nhsNumber": None, "verified": False, "relationship": "", "maleCarer": False}
    return {"birthDate": None, "language": None, "interpreterRequired": None, "checks": [], **base, **fields}


def picture(*people: dict, records: list | None = None, preterm: bool | None = None) -> dict:
    return {
        "records": records or [],
        "sources": [],
        "people": [person("baby", "Baby V"), *people],
        "baby": {"preterm": preterm},
        "openTasks": 0,
    }


def prefilled(checkpoint: str, pic: dict) -> dict:
    q = CHECKLISTS.for_checkpoint(checkpoint)
    env = {"picture": pic, "patient": {}, "encounter": {}}
    return populate(q, env=env, subject={"display": "Baby V"}, encounter=None).response


def answers(response: dict, link_id: str) -> list[list[dict]]:
    """The answers of each instance of link_id, in order."""
    found, stack = [], list(response["item"])
    while stack:
        item = stack.pop(0)
        if item["linkId"] == link_id:
            found.append(item.get("answer") or [])
        stack.extend(item.get("item") or [])
    return found


def codes(response: dict, link_id: str) -> list[str | None]:
    return [a[0]["valueCoding"]["code"] if a else None for a in answers(response, link_id)]


def test_a7_prefills_each_parents_own_language_and_leaves_unknown_blank():
    pic = picture(person("mother", "Zofia B", language="Polish"), person("father", "Mark B"))

    response = prefilled("admission", pic)

    assert answers(response, "A7-language-interpreter.parent.language") == [[{"valueString": "Polish"}], []]


@pytest.mark.parametrize(
    ("checkpoint", "link_id"),
    [
        ("admission", "A7-language-interpreter.parent.interpreter-need"),
        ("transfer", "T5-interpreter-and-carers.person.interpreter-need"),
    ],
)
def test_interpreter_needed_from_the_interpreter_required_flag_or_a_record_about_that_person(checkpoint, link_id):
    flagged = person("mother", "Zofia B", interpreterRequired=True, nhsNumber="9990101001")
    recorded = person("father", "Mark B", nhsNumber="9990101002")
    said_no = person("partner", "Tom P", interpreterRequired=False)
    nobody_says = person("carer", "Ewa K")
    record = {"category": "interpreter", "personNhsNumber": "9990101002", "personRole": "father", "current": True}

    response = prefilled(checkpoint, picture(flagged, recorded, said_no, nobody_says, records=[record]))

    # false or null is never pre-filled "not needed": the clinician asks
    assert codes(response, link_id) == ["315594003", "315594003", None, None]


def test_an_interpreter_record_about_someone_else_does_not_prefill_this_person():
    record = {"category": "interpreter", "personNhsNumber": "9990101001", "personRole": "mother", "current": True}
    pic = picture(person("mother", "Zofia B", nhsNumber="9990101001"), person("father", "Mark B"), records=[record])

    response = prefilled("admission", pic)

    assert codes(response, "A7-language-interpreter.parent.interpreter-need") == ["315594003", None]


def test_a4_prefills_each_persons_date_of_birth_and_leaves_unknown_blank():
    pic = picture(person("mother", "Zofia B", birthDate="1996-03-04"), person("father", "Mark B"))

    response = prefilled("admission", pic)

    assert answers(response, "A4-household.person.birth-date") == [[{"valueDate": "1996-03-04"}], []]


@pytest.mark.parametrize(("preterm", "expected"), [(True, ["yes"]), (False, ["no"]), (None, [None])])
def test_d7_gate_follows_the_stated_gestation_and_unknown_is_not_prefilled(preterm, expected):
    response = prefilled("discharge", picture(person("mother", "Zofia B"), preterm=preterm))

    assert codes(response, "D7-preterm-or-low-birthweight.answer") == expected


def test_a4_does_not_ask_a_brother_or_sister_of_the_baby_about_parental_responsibility():
    q = CHECKLISTS.for_checkpoint("admission")
    pic = picture(person("mother", "Amy T"), person("sibling", "Twin 2 T"), person("other", "Lodger L"))
    response = prefilled("admission", pic)

    enabled = enabled_paths(q, response, {"picture": pic, "patient": {}, "encounter": {}})

    asked = sorted(p for p in enabled if p.endswith("A4-household.person.parental-responsibility~0"))
    # the mother (entry 0) and the other person (2) are asked; the baby's sibling (1) is not
    assert asked == [
        f"A4-household~0/A4-household.person~{i}/A4-household.person.parental-responsibility~0" for i in (0, 2)
    ]
