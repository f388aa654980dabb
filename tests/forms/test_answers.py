"""Reading what a clinician typed into the form: every item type, typed answers, messages that say what to do."""

from __future__ import annotations

import pytest

from app.forms import answer_text, apply_form, coding_key
from tests.forms.builders import (
    hidden,
    initial_expression,
    items_with,
    make_coding,
    make_group,
    make_item,
    make_questionnaire,
    make_response,
)

YES = make_coding("yes", "Yes")


def one(kind: str, **fields) -> dict:
    return make_questionnaire(make_item("q", kind, text="Date told" if kind == "date" else "The question", **fields))


@pytest.mark.parametrize(
    ("kind", "typed", "answers"),
    [
        ("boolean", ["true"], [{"valueBoolean": True}]),
        ("boolean", ["false"], [{"valueBoolean": False}]),
        ("string", ["  Ward 3 "], [{"valueString": "Ward 3"}]),
        ("text", ["line one\r\nline two"], [{"valueString": "line one\r\nline two"}]),
        ("integer", ["0"], [{"valueInteger": 0}]),
        ("integer", ["1,234"], [{"valueInteger": 1234}]),
        ("decimal", ["2.50"], [{"valueDecimal": 2.5}]),
        ("decimal", ["0"], [{"valueDecimal": 0.0}]),
        ("date", ["2026-11-20"], [{"valueDate": "2026-11-20"}]),
        ("dateTime", ["2026-11-20T14:30"], [{"valueDateTime": "2026-11-20T14:30:00+00:00"}]),  # GMT in November
        ("dateTime", ["2026-06-20T14:30"], [{"valueDateTime": "2026-06-20T14:30:00+01:00"}]),  # BST in June
        ("choice", [coding_key(YES)], [{"valueCoding": YES}]),
        ("open-choice", [coding_key(YES)], [{"valueCoding": YES}]),
        ("string", ["", "  "], None),
    ],
)
def test_each_item_type_is_read_as_its_fhir_answer(kind, typed, answers):
    q = one(kind, **({"answerOption": [{"valueCoding": YES}]} if "choice" in kind else {}))
    response = make_response(q)

    problems = apply_form(q, response, {"q~0": typed})

    assert problems == {}
    assert response["item"][0].get("answer") == answers


def test_open_choice_takes_text_typed_in_other():
    q = one("open-choice", answerOption=[{"valueCoding": YES}])
    response = make_response(q)

    assert apply_form(q, response, {"q~0:other": ["Tigrinya"]}) == {}
    assert response["item"][0]["answer"] == [{"valueString": "Tigrinya"}]


def test_open_choice_with_an_option_and_other_text_asks_for_one():
    q = one("open-choice", answerOption=[{"valueCoding": YES}])

    problems = apply_form(q, make_response(q), {"q~0": [coding_key(YES)], "q~0:other": ["Tigrinya"]})

    assert problems == {"q~0": "Select an option or type another answer, not both: The question"}


def test_checkboxes_give_one_answer_each_and_a_single_answer_question_keeps_one():
    options = [{"valueCoding": make_coding(c)} for c in ("a", "b")]
    q = make_questionnaire(
        make_item("many", "choice", answerOption=options, repeats=True),
        make_item("single", "choice", answerOption=options),
    )
    response = make_response(q)
    keys = [coding_key(o["valueCoding"]) for o in options]

    apply_form(q, response, {"many~0": keys, "single~0": keys})

    assert [len(i["answer"]) for i in response["item"]] == [2, 1]


@pytest.mark.parametrize(
    ("kind", "typed", "message"),
    [
        ("boolean", "maybe", "Select yes or no: The question"),
        ("choice", "http://x|nope", "Select one of the options: The question"),
        ("integer", "12.5", "The question must be a whole number, like 12"),
        ("integer", "99999999999", "The question must be a whole number below 2,147,483,648"),
        ("decimal", "twelve", "The question must be a number, like 12.5"),
        ("decimal", "NaN", "The question must be a number, like 12.5"),
        ("decimal", "Infinity", "The question must be a number, like 12.5"),
        ("date", "31/02/2026", "Date told must be a real date, like 26 11 2026"),
        ("date", "2026-02-31", "Date told must be a real date, like 26 11 2026"),
        ("dateTime", "yesterday", "The question must be a real date and time, like 26 11 2026 at 14:30"),
    ],
)
def test_a_value_that_cannot_be_read_is_named_with_what_to_do(kind, typed, message):
    q = one(kind, **({"answerOption": [{"valueCoding": YES}]} if kind == "choice" else {}))
    response = make_response(q)

    assert apply_form(q, response, {"q~0": [typed]}) == {"q~0": message}
    assert "answer" not in response["item"][0]


def test_read_only_and_hidden_items_keep_their_prefilled_answers():
    q = make_questionnaire(
        make_item("found", "string", readOnly=True, extensions=[initial_expression("'maternity'")]),
        make_item("secret", "string", extensions=[hidden(), initial_expression("'kept'")]),
        make_group(
            "hidden-group",
            make_item("inside", "string", extensions=[initial_expression("'also kept'")]),
            extensions=[hidden()],
        ),
        make_item("typed", "string"),
    )
    response = make_response(q)

    apply_form(q, response, {"found~0": ["changed"], "secret~0": ["changed"], "typed~0": ["new"]})

    assert [items_with(response, link)[0].get("answer") for link in ("found", "secret", "inside", "typed")] == [
        [{"valueString": "maternity"}],
        [{"valueString": "kept"}],
        [{"valueString": "also kept"}],
        [{"valueString": "new"}],
    ]


def test_a_cleared_field_clears_its_answer():
    q = one("string", initial=[{"valueString": "was here"}])
    response = make_response(q)

    apply_form(q, response, {})

    assert "answer" not in response["item"][0]


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ({"valueBoolean": False}, "No"),
        ({"valueBoolean": True}, "Yes"),
        ({"valueInteger": 0}, "0"),
        ({"valueCoding": YES}, "Yes"),
        ({"valueCoding": {"code": "x"}}, "x"),
        ({"valueDate": "2026-11-20"}, "2026-11-20"),
    ],
)
def test_answer_text(answer, text):
    assert answer_text(answer) == text
