"""Every message names the source or person it is about: inside a repeating group (one entry per source, per person)
the entry's name is in the message, so a blank admission never says "Lives with the baby?" three times."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from app.forms import apply_form, coding_key, enabled_paths, validate
from app.web.form_view import form_fields
from tests.forms.builders import answer, items_with, make_group, make_item, make_questionnaire, make_response
from tests.forms.test_checklist_files import CASE_V, SOURCE_DOWN
from tests.forms.test_checklist_files import env as checklist_file_env
from tests.forms.test_validate import CHECKLISTS, messages

LABELS = {"social-care": "Children's social care", "cpis": "CP-IS", "police-gp": "Police and GP notices"}

PEOPLE = make_questionnaire(
    make_group(
        "household",
        make_group(
            "household.person",
            make_item("household.person.name", "string", text="Name", required=True),
            make_item("household.person.role", "choice", text="Role", options=["father", "mother"], required=True),
            make_item("household.person.lives", "boolean", text="Lives with the baby?", required=True),
            make_item("household.person.seen", "date", text="Date seen", required=True),
            text="Person",
            repeats=True,
            required=True,
        ),
        text="Household",
        required=True,
    )
)
PERSON = "household~0/household.person~{}/household.person.{}~0"


def household(*people: tuple[str, str]) -> dict:
    response = make_response(PEOPLE)
    group = items_with(response, "household")[0]
    template = group["item"][0]
    group["item"] = [{**template, "item": [dict(i) for i in template["item"]]} for _ in people]
    for index, (name, role) in enumerate(people):
        if name:
            answer(response, "household.person.name", {"valueString": name}, entry=index)
        option = next(o for o in items_with(PEOPLE, "household.person.role")[0]["answerOption"])
        coding = {**option["valueCoding"], "code": role, "display": role.capitalize()}
        answer(response, "household.person.role", {"valueCoding": coding}, entry=index)
    return response


def test_a_message_inside_a_persons_entry_names_the_person_and_their_role():
    response = household(("Jason Smith", "father"), ("Anna Smith", "mother"))

    found = messages(validate(PEOPLE, response, {}))

    assert found[PERSON.format(0, "lives")] == "Select yes or no for Jason Smith (father): Lives with the baby?"
    assert found[PERSON.format(1, "lives")] == "Select yes or no for Anna Smith (mother): Lives with the baby?"
    assert found[PERSON.format(0, "seen")] == "Enter date seen for Jason Smith (father)"


def test_an_entry_without_a_name_yet_is_named_by_its_number():
    response = household(("", "father"), ("", "mother"))

    found = messages(validate(PEOPLE, response, {}))

    assert found[PERSON.format(1, "name")] == "Enter name for Person 2"
    assert found[PERSON.format(1, "lives")] == "Select yes or no for Person 2: Lives with the baby?"


def test_a_value_typed_that_cannot_be_read_names_the_person_typed_in_the_same_post():
    response = household(("", "father"))
    role = coding_key(items_with(response, "household.person.role")[0]["answer"][0]["valueCoding"])
    form = {
        PERSON.format(0, "name"): ["Jason Smith"],
        PERSON.format(0, "role"): [role],
        PERSON.format(0, "lives"): ["perhaps"],
        PERSON.format(0, "seen") + ":day": ["31"],
        PERSON.format(0, "seen") + ":month": ["2"],
        PERSON.format(0, "seen") + ":year": ["2026"],
    }

    problems = apply_form(PEOPLE, response, form)

    assert problems == {
        PERSON.format(0, "lives"): "Select yes or no: Lives with the baby? for Jason Smith (father)",
        PERSON.format(0, "seen"): "Date seen for Jason Smith (father) must be a real date, like 26 11 2026",
    }


def flat(fields):
    for f in fields:
        yield f
        yield from flat(f.children)


def populated(checkpoint: str, picture: dict) -> tuple[dict, dict, dict]:
    q = CHECKLISTS.for_checkpoint(checkpoint)
    context = checklist_file_env(q, {**picture, "checkpoint": checkpoint, "openTasks": 0})
    context.pop("resource")
    return q, make_response(q, context), context


@pytest.mark.parametrize("picture", [CASE_V, SOURCE_DOWN], ids=["case-v", "source-down"])
@pytest.mark.parametrize("checkpoint", ["admission", "transfer", "discharge"])
def test_a_blank_checklist_never_gives_the_same_message_twice(checkpoint, picture):
    q, response, context = populated(checkpoint, picture)

    said = Counter(i.message for i in validate(q, response, context, names=LABELS))

    assert [m for m, n in said.items() if n > 1] == []


def test_each_source_is_named_by_its_label_in_the_admission_checklist():
    q, response, context = populated("admission", SOURCE_DOWN)

    said = [i.message for i in validate(q, response, context, names=LABELS)]

    reviewed = [m for m in said if m.endswith("Have you reviewed this source?")]
    assert "Select an answer for Children's social care: Have you reviewed this source?" in reviewed
    assert "Select an answer for CP-IS: Have you reviewed this source?" in reviewed
    assert len(reviewed) == 5  # one for each source, each named
    assert not any("for cpis" in m or "for social-care" in m for m in said)


def test_the_form_heads_each_entry_as_its_messages_name_it_and_shows_statuses_in_words():
    q, response, context = populated("admission", SOURCE_DOWN)

    fields = list(flat(form_fields(q, response, enabled=enabled_paths(q, response, context), names=LABELS)))

    legends = [f.legend for f in fields if f.legend]
    assert "Source: Children's social care" in legends and "Source: CP-IS" in legends
    assert any(re.fullmatch(r"Person: Anna V \(mother\)", t) for t in legends), legends
    statuses = {v for f in fields if f.path.endswith("source.status~0") for v in f.shown}
    assert statuses == {"Checked: none found", "Not checked: source unavailable", "Not connected: not checked"}
