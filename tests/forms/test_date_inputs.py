"""Dates and times are drawn back in the form a browser's own control keeps, so nothing entered is lost.

An `<input type="datetime-local">` holds a wall-clock time with no offset (YYYY-MM-DDTHH:MM, seconds if any)
and empties itself when given anything else, such as a stored valueDateTime with its offset. The form reads a
typed time in the unit's local time (Europe/London), so the stored instant is drawn in that time: posted
again, it is the same valueDateTime. What the control could not show exactly is drawn as it is, in a text box.
"""

from __future__ import annotations

import pytest

from app.forms import apply_form, enabled_paths, input_value, walk
from app.web.form_view import form_fields
from tests.forms.builders import items_with, make_group, make_item, make_questionnaire, make_response

SIGNED = make_questionnaire(
    make_group(
        "signoff",
        make_item("signed-at", "dateTime", text="Date and time signed", required=True),
        make_item("told", "date", text="Date told"),
        make_item("name", "string", text="Signed by", required=True),
    )
)
SIGNED_AT = "signoff~0/signed-at~0"
TOLD = "signoff~0/told~0"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2026-11-26T11:00:00+00:00", "2026-11-26T11:00"),  # GMT
        ("2026-07-01T10:00:00+01:00", "2026-07-01T10:00"),  # BST
        ("2026-07-01T09:00:00Z", "2026-07-01T10:00"),  # an instant in UTC, shown on the unit's clock
        ("2026-11-26T11:00:00-05:00", "2026-11-26T16:00"),
        ("2026-07-01T10:00:30+01:00", "2026-07-01T10:00:30"),  # seconds only when there are some
        ("2026-07-01T10:00:00.250+01:00", "2026-07-01T10:00:00.250"),
        ("2026-10-25T01:30:00+01:00", "2026-10-25T01:30"),  # clocks go back: the first 01:30 (BST)
        ("2026-11-26T11:00", "2026-11-26T11:00"),  # no offset: already the unit's wall-clock time
    ],
)
def test_a_stored_date_time_is_shown_on_the_units_clock_without_an_offset(stored, shown):
    assert input_value("dateTime", stored) == shown


@pytest.mark.parametrize(
    "stored",
    [
        "2026-11-26",  # a date with no time: midnight would be made up
        "2026-11",
        "2026",
        "2026-10-25T01:30:00+00:00",  # the second 01:30 of the night the clocks go back (GMT)
        "2026-07-01T10:00:00.250001+01:00",  # finer than the control's millisecond
        "2026-11-26T25:00:00+00:00",
        "yesterday",
    ],
)
def test_a_date_time_the_control_cannot_show_exactly_has_no_control_value(stored):
    assert input_value("dateTime", stored) is None


@pytest.mark.parametrize(("stored", "shown"), [("2026-11-26", "2026-11-26"), ("2026-07-01", "2026-07-01")])
def test_a_stored_date_is_shown_as_it_is(stored, shown):
    assert input_value("date", stored) == shown


@pytest.mark.parametrize("stored", ["2026-11", "2026", "2026-02-30", "2026-11-26T10:00:00+00:00", "26/11/2026"])
def test_a_date_the_control_cannot_show_has_no_control_value(stored):
    assert input_value("date", stored) is None


def posted_again(stored: dict) -> dict:
    """Post what the page draws for `stored` (its controls' values) and return the answers stored then."""
    fields = {f.path: f for f in _flat(form_fields(SIGNED, stored, enabled=enabled_paths(SIGNED, stored, {})))}
    response = make_response(SIGNED)
    form = {path: f.values for path, f in fields.items() if f.values}
    assert apply_form(SIGNED, response, form) == {}
    return _answers(response)


def _flat(fields):
    for f in fields:
        yield f
        yield from _flat(f.children)


def _answers(response: dict) -> dict:
    return {n.path: n.r.get("answer") for n in walk(SIGNED, response) if not n.is_group}


@pytest.mark.parametrize(
    "typed",
    [
        "2026-11-26T11:00",  # GMT
        "2026-07-01T11:00",  # BST
        "2026-07-01T23:59",  # BST, the day before in UTC
        "2026-07-01T11:00:05",
        "2026-03-29T00:59",  # just before the clocks go forward
        "2026-03-29T02:00",  # just after
        "2026-10-25T01:30",  # the night the clocks go back
    ],
)
def test_a_typed_date_and_time_is_drawn_as_typed_and_posted_again_gives_the_same_answer(typed):
    response = make_response(SIGNED)
    assert apply_form(SIGNED, response, {SIGNED_AT: [typed], TOLD: ["2026-07-01"], "signoff~0/name~0": ["Sam"]}) == {}
    stored = _answers(response)

    [signed_at] = [f for f in _flat(form_fields(SIGNED, response, enabled=set())) if f.path == SIGNED_AT]
    assert (signed_at.control, signed_at.values) == ("datetime-local", [typed])
    assert posted_again(response) == stored


def test_form_fields_draws_a_stored_date_time_in_a_datetime_local_control_in_local_time():
    response = make_response(SIGNED)
    items_with(response, "signed-at")[0]["answer"] = [{"valueDateTime": "2026-07-01T10:00:00+01:00"}]
    items_with(response, "told")[0]["answer"] = [{"valueDate": "2026-11-26"}]

    fields = {f.path: f for f in _flat(form_fields(SIGNED, response, enabled=enabled_paths(SIGNED, response, {})))}

    assert (fields[SIGNED_AT].control, fields[SIGNED_AT].values) == ("datetime-local", ["2026-07-01T10:00"])
    assert (fields[TOLD].control, fields[TOLD].values) == ("date", ["2026-11-26"])
    assert fields["signoff~0/name~0"].control == "text"
    assert fields[SIGNED_AT].hint == ""


def test_a_value_the_control_cannot_show_is_drawn_as_it_is_in_a_text_box_and_said_so():
    response = make_response(SIGNED)
    items_with(response, "signed-at")[0]["answer"] = [{"valueDateTime": "2026-10-25T01:30:00+00:00"}]
    items_with(response, "told")[0]["answer"] = [{"valueDate": "2026-11"}]

    fields = {f.path: f for f in _flat(form_fields(SIGNED, response, enabled=enabled_paths(SIGNED, response, {})))}

    assert (fields[SIGNED_AT].control, fields[SIGNED_AT].values) == ("text", ["2026-10-25T01:30:00+00:00"])
    assert (fields[TOLD].control, fields[TOLD].values) == ("text", ["2026-11"])
    assert "type it like 2026-11-26 14:30" in fields[SIGNED_AT].hint
    assert "type it like 2026-11-26." in fields[TOLD].hint
    # posted again from the text box, the time is the same instant it was
    again = make_response(SIGNED)
    assert apply_form(SIGNED, again, {SIGNED_AT: fields[SIGNED_AT].values}) == {}
    assert items_with(again, "signed-at")[0]["answer"] == [{"valueDateTime": "2026-10-25T01:30:00+00:00"}]


def test_a_posted_value_that_could_not_be_read_is_drawn_again_as_typed():
    response = make_response(SIGNED)
    typed = {SIGNED_AT: ["26/11/2026 14:30"], TOLD: ["2026-11-26"]}
    problems = apply_form(SIGNED, response, typed)

    fields = {
        f.path: f for f in _flat(form_fields(SIGNED, response, enabled=set(), raw=typed, parse_problems=problems))
    }

    assert SIGNED_AT in problems
    assert (fields[SIGNED_AT].control, fields[SIGNED_AT].values) == ("text", ["26/11/2026 14:30"])
    assert (fields[TOLD].control, fields[TOLD].values) == ("date", ["2026-11-26"])
