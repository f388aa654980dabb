"""The NHS.UK date input (day, month, year; a date and time adds the time) read from the form: a real date or a
clear message naming the question, and what was typed drawn back exactly, never dropped or guessed."""

from __future__ import annotations

import pytest

from app.forms import apply_form
from app.web.form_view import form_fields
from tests.forms.builders import items_with, make_group, make_item, make_questionnaire, make_response

Q = make_questionnaire(
    make_group(
        "g",
        make_item("told", "date", text="Date told", required=True),
        make_item("signed", "dateTime", text="Date and time signed", required=True),
    )
)
TOLD, SIGNED = "g~0/told~0", "g~0/signed~0"


def boxes(path: str, *values: str) -> dict[str, list[str]]:
    return {f"{path}:{name}": [v] for name, v in zip(("day", "month", "year", "time"), values, strict=False)}


def flat(fields):
    for f in fields:
        yield f
        yield from flat(f.children)


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        (boxes(TOLD, "1", "7", "2026"), {"valueDate": "2026-07-01"}),
        (boxes(TOLD, "01", "07", "2026"), {"valueDate": "2026-07-01"}),
        (boxes(TOLD, " 29 ", "2", "2028"), {"valueDate": "2028-02-29"}),
    ],
)
def test_a_real_date_in_the_boxes_is_the_answer(typed, answer):
    response = make_response(Q)
    assert apply_form(Q, response, typed) == {}
    assert items_with(response, "told")[0]["answer"] == [answer]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (boxes(TOLD, "31", "2", "2026"), "Date told must be a real date, like 26 11 2026"),
        (boxes(TOLD, "29", "2", "2026"), "Date told must be a real date, like 26 11 2026"),
        (boxes(TOLD, "1", "13", "2026"), "Date told must be a real date, like 26 11 2026"),
        (boxes(TOLD, "1", "7", "26"), "Date told must be a real date, like 26 11 2026"),
        (boxes(TOLD, "first", "7", "2026"), "Date told must be a real date, like 26 11 2026"),
        (boxes(TOLD, "1", "", "2026"), "Date told must include a month"),
        (boxes(TOLD, "", "", "2026"), "Date told must include a day and month"),
    ],
)
def test_a_date_that_is_not_real_or_not_whole_is_named_and_not_stored(typed, message):
    response = make_response(Q)
    assert apply_form(Q, response, typed) == {TOLD: message}
    assert "answer" not in items_with(response, "told")[0]


@pytest.mark.parametrize(
    ("time", "stored"),
    [
        ("14:30", "2026-07-01T14:30:00+01:00"),
        ("9.05", "2026-07-01T09:05:00+01:00"),
        ("23:59:30", "2026-07-01T23:59:30+01:00"),
    ],
)
def test_a_date_and_time_is_read_on_the_units_clock(time, stored):
    response = make_response(Q)
    assert apply_form(Q, response, boxes(SIGNED, "1", "7", "2026", time)) == {}
    assert items_with(response, "signed")[0]["answer"] == [{"valueDateTime": stored}]


@pytest.mark.parametrize(
    ("time", "message"),
    [
        ("", "Date and time signed must include a time"),
        ("2:30pm", "Date and time signed must include a real time on the 24-hour clock, like 14:30"),
        ("24:00", "Date and time signed must include a real time on the 24-hour clock, like 14:30"),
    ],
)
def test_a_time_missing_or_not_real_is_named(time, message):
    assert apply_form(Q, make_response(Q), boxes(SIGNED, "1", "7", "2026", time)) == {SIGNED: message}


def test_boxes_that_could_not_be_read_are_drawn_again_exactly_as_typed():
    """31 2 2026 comes back as 31, 2, 2026 beside its message: nothing typed is lost or silently changed."""
    typed = {**boxes(TOLD, "31", "2", "2026"), **boxes(SIGNED, "1", "7", "2026", "25:00")}
    response = make_response(Q)
    problems = apply_form(Q, response, typed)

    fields = {f.path: f for f in flat(form_fields(Q, response, enabled=set(), raw=typed, parse_problems=problems))}

    assert fields[TOLD].parts == {"day": "31", "month": "2", "year": "2026", "time": ""}
    assert fields[TOLD].error == "Date told must be a real date, like 26 11 2026"
    assert fields[SIGNED].parts["time"] == "25:00"
    assert fields[SIGNED].control == "datetime-local"


def test_a_stored_date_and_time_fills_the_boxes_as_it_was_typed():
    response = make_response(Q)
    items_with(response, "told")[0]["answer"] = [{"valueDate": "2026-11-05"}]
    items_with(response, "signed")[0]["answer"] = [{"valueDateTime": "2026-07-01T13:30:00Z"}]  # 14:30 BST

    fields = {f.path: f for f in flat(form_fields(Q, response, enabled=set()))}

    assert fields[TOLD].parts == {"day": "5", "month": "11", "year": "2026"}
    assert fields[SIGNED].parts == {"day": "1", "month": "7", "year": "2026", "time": "14:30"}
