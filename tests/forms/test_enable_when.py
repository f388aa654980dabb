"""enableWhen (every operator, on every answer type), enableBehavior, enableWhenExpression, repeats and parents."""

from __future__ import annotations

import pytest

from app.forms import enabled_paths
from tests.forms.builders import (
    answer,
    enable_when_expression,
    make_coding,
    make_group,
    make_item,
    make_questionnaire,
    make_response,
    when,
)

YES, NO = make_coding("yes"), make_coding("no")

# (trigger type, the answer given, operator, the enableWhen's answer[x], is the follow-up enabled?)
CASES = [
    ("boolean", {"valueBoolean": True}, "=", {"answerBoolean": True}, True),
    ("boolean", {"valueBoolean": False}, "=", {"answerBoolean": True}, False),
    ("boolean", {"valueBoolean": False}, "=", {"answerBoolean": False}, True),
    ("boolean", {"valueBoolean": False}, "!=", {"answerBoolean": True}, True),
    ("boolean", {"valueBoolean": True}, "!=", {"answerBoolean": True}, False),
    ("choice", {"valueCoding": YES}, "=", {"answerCoding": YES}, True),
    ("choice", {"valueCoding": NO}, "=", {"answerCoding": YES}, False),
    ("choice", {"valueCoding": YES}, "=", {"answerCoding": {"code": "yes"}}, True),  # no system: code alone
    ("choice", {"valueCoding": YES}, "=", {"answerCoding": {**YES, "system": "http://other"}}, False),
    ("choice", {"valueCoding": NO}, "!=", {"answerCoding": YES}, True),
    ("choice", {"valueCoding": YES}, "!=", {"answerCoding": YES}, False),
    ("integer", {"valueInteger": 5}, "=", {"answerInteger": 5}, True),
    ("integer", {"valueInteger": 0}, "=", {"answerInteger": 0}, True),
    ("integer", {"valueInteger": 5}, "!=", {"answerInteger": 5}, False),
    ("integer", {"valueInteger": 5}, ">", {"answerInteger": 4}, True),
    ("integer", {"valueInteger": 5}, ">", {"answerInteger": 5}, False),
    ("integer", {"valueInteger": 5}, "<", {"answerInteger": 6}, True),
    ("integer", {"valueInteger": 5}, "<", {"answerInteger": 5}, False),
    ("integer", {"valueInteger": 5}, ">=", {"answerInteger": 5}, True),
    ("integer", {"valueInteger": 4}, ">=", {"answerInteger": 5}, False),
    ("integer", {"valueInteger": 5}, "<=", {"answerInteger": 5}, True),
    ("integer", {"valueInteger": 6}, "<=", {"answerInteger": 5}, False),
    ("decimal", {"valueDecimal": 2.5}, "=", {"answerDecimal": 2.5}, True),
    ("decimal", {"valueDecimal": 2.5}, "!=", {"answerDecimal": 2.4}, True),
    ("decimal", {"valueDecimal": 2.5}, ">", {"answerDecimal": 2.4}, True),
    ("decimal", {"valueDecimal": 2.5}, "<", {"answerDecimal": 2.4}, False),
    ("decimal", {"valueDecimal": 2.5}, ">=", {"answerDecimal": 2.5}, True),
    ("decimal", {"valueDecimal": 2.5}, "<=", {"answerDecimal": 2.49}, False),
    ("date", {"valueDate": "2026-11-20"}, "=", {"answerDate": "2026-11-20"}, True),
    ("date", {"valueDate": "2026-11-20"}, "!=", {"answerDate": "2026-11-20"}, False),
    ("date", {"valueDate": "2026-11-20"}, ">", {"answerDate": "2026-11-19"}, True),
    ("date", {"valueDate": "2026-11-20"}, "<", {"answerDate": "2026-11-19"}, False),
    ("date", {"valueDate": "2026-11-20"}, ">=", {"answerDate": "2026-11-21"}, False),
    ("date", {"valueDate": "2026-11-20"}, "<=", {"answerDate": "2026-11-20"}, True),
    ("dateTime", {"valueDateTime": "2026-11-20T10:00:00+00:00"}, "=", {"answerDateTime": "2026-11-20T10:00:00Z"}, True),
    # a time without a zone is read as UK time, as the form reads typed times (GMT in November)
    ("dateTime", {"valueDateTime": "2026-11-20T10:00:00+00:00"}, "=", {"answerDateTime": "2026-11-20T10:00:00"}, True),
    ("dateTime", {"valueDateTime": "2026-11-20T10:00:00+00:00"}, ">", {"answerDateTime": "2026-11-20T09:59:00"}, True),
    ("dateTime", {"valueDateTime": "2026-11-20T10:00:00+01:00"}, "<", {"answerDateTime": "2026-11-20T09:30:00Z"}, True),
    (
        "dateTime",
        {"valueDateTime": "2026-11-20T10:00:00+00:00"},
        ">=",
        {"answerDateTime": "2026-11-21T00:00:00Z"},
        False,
    ),
    (
        "dateTime",
        {"valueDateTime": "2026-11-20T10:00:00+00:00"},
        "<=",
        {"answerDateTime": "2026-11-20T10:00:00Z"},
        True,
    ),
    (
        "dateTime",
        {"valueDateTime": "2026-11-20T10:00:00+00:00"},
        "!=",
        {"answerDateTime": "2026-11-20T10:00:00Z"},
        False,
    ),
    ("string", {"valueString": "unavailable"}, "=", {"answerString": "unavailable"}, True),
    ("string", {"valueString": "found"}, "=", {"answerString": "unavailable"}, False),
    ("string", {"valueString": "found"}, "!=", {"answerString": "unavailable"}, True),
    ("string", {"valueString": "b"}, ">", {"answerString": "a"}, True),
    ("string", {"valueString": "b"}, "<", {"answerString": "a"}, False),
    ("string", {"valueString": "b"}, ">=", {"answerString": "b"}, True),
    ("string", {"valueString": "b"}, "<=", {"answerString": "a"}, False),
]


def trigger_and_follow_up(kind: str, *conditions: dict, **fields) -> dict:
    options = {"options": ["yes", "no"]} if kind == "choice" else {}
    return make_questionnaire(
        make_group(
            "g",
            make_item("trigger", kind, **options),
            make_item("follow-up", "text", enableWhen=list(conditions), **fields),
        )
    )


@pytest.mark.parametrize(("kind", "given", "operator", "expected", "enabled"), CASES)
def test_every_operator_on_every_answer_type(kind, given, operator, expected, enabled):
    q = trigger_and_follow_up(kind, when("trigger", operator, **expected))
    response = answer(make_response(q), "trigger", given)

    assert ("g~0/follow-up~0" in enabled_paths(q, response, {})) is enabled


@pytest.mark.parametrize("kind", ["boolean", "choice", "integer", "decimal", "date", "dateTime", "string"])
def test_without_an_answer_only_not_equals_and_exists_false_are_true(kind):
    """R4: '!=' is true when no answer equals the value, which includes no answer at all."""
    value = {"boolean": {"answerBoolean": True}, "choice": {"answerCoding": YES}}.get(kind, {"answerString": "x"})
    for operator, expected in [("=", False), ("!=", True), (">", False), ("<", False), (">=", False), ("<=", False)]:
        q = trigger_and_follow_up(kind, when("trigger", operator, **value))
        assert ("g~0/follow-up~0" in enabled_paths(q, make_response(q), {})) is expected, operator


@pytest.mark.parametrize(
    ("given", "exists", "enabled"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, True)],
)
def test_exists(given, exists, enabled):
    q = trigger_and_follow_up("integer", when("trigger", "exists", answerBoolean=exists))
    response = make_response(q)
    if given:
        answer(response, "trigger", {"valueInteger": 0})  # 0 is an answer

    assert ("g~0/follow-up~0" in enabled_paths(q, response, {})) is enabled


def test_repeating_answers_match_if_any_answer_matches_and_not_equals_if_none_does():
    q = make_questionnaire(
        make_item("concerns", "choice", options=["alcohol", "smoking", "none"], repeats=True),
        make_item("details", "text", enableWhen=[when("concerns", "=", answerCoding=make_coding("smoking"))]),
        make_item("why-none", "text", enableWhen=[when("concerns", "!=", answerCoding=make_coding("none"))]),
    )
    response = answer(
        make_response(q), "concerns", {"valueCoding": make_coding("alcohol")}, {"valueCoding": make_coding("smoking")}
    )

    assert enabled_paths(q, response, {}) >= {"details~0", "why-none~0"}
    answer(response, "concerns", {"valueCoding": make_coding("smoking")}, {"valueCoding": make_coding("none")})
    assert "why-none~0" not in enabled_paths(q, response, {})


@pytest.mark.parametrize(
    ("behavior", "a", "b", "enabled"),
    [
        ("any", True, False, True),
        ("any", False, False, False),
        ("all", True, False, False),
        ("all", True, True, True),
    ],
)
def test_enable_behavior_any_and_all(behavior, a, b, enabled):
    q = make_questionnaire(
        make_item("a", "boolean"),
        make_item("b", "boolean"),
        make_item(
            "c",
            "text",
            enableWhen=[when("a", "=", answerBoolean=True), when("b", "=", answerBoolean=True)],
            enableBehavior=behavior,
        ),
    )
    response = answer(answer(make_response(q), "a", {"valueBoolean": a}), "b", {"valueBoolean": b})

    assert ("c~0" in enabled_paths(q, response, {})) is enabled


def test_enable_when_expression_over_the_picture_and_the_answers():
    q = make_questionnaire(
        make_item("father-recorded", "boolean"),
        make_group(
            "da-enquiry",
            make_item("outcome", "string"),
            extensions=[
                enable_when_expression(
                    "%picture.records.where(category = 'domestic-abuse').exists() or "
                    "%resource.repeat(item).where(linkId = 'father-recorded').answer.value = false"
                )
            ],
        ),
    )
    historic_da = {"records": [{"category": "domestic-abuse", "current": False}]}
    nothing = {"records": []}
    response = make_response(q)

    assert {"da-enquiry~0", "da-enquiry~0/outcome~0"} <= enabled_paths(q, response, {"picture": historic_da})
    assert "da-enquiry~0" not in enabled_paths(q, response, {"picture": nothing})
    answer(response, "father-recorded", {"valueBoolean": False})
    assert "da-enquiry~0" in enabled_paths(q, response, {"picture": nothing})


def test_enable_when_expression_sees_the_item_as_context():
    q = make_questionnaire(
        make_item("note", "string", extensions=[enable_when_expression("%context.linkId = 'note'")]),
    )
    assert "note~0" in enabled_paths(q, make_response(q), {})


@pytest.mark.parametrize("expression", ["%picture.records.where(", "%nothing.here.exists()", "1 / 'x' = 2"])
def test_a_broken_trigger_asks_the_question_rather_than_hiding_it(expression):
    q = make_questionnaire(make_item("ask", "boolean", extensions=[enable_when_expression(expression)]))

    assert "ask~0" in enabled_paths(q, make_response(q), {"picture": {}})


def test_an_item_in_a_repeating_group_depends_on_its_sibling_in_the_same_entry():
    q = make_questionnaire(
        make_group(
            "carer",
            make_item("icon", "boolean"),
            make_item("date-given", "date", enableWhen=[when("icon", "=", answerBoolean=True)]),
            repeats=True,
        )
    )
    response = make_response(q)
    response["item"].append({"linkId": "carer", "item": [{"linkId": "icon"}, {"linkId": "date-given"}]})
    answer(response, "icon", {"valueBoolean": True}, entry=0)
    answer(response, "icon", {"valueBoolean": False}, entry=1)

    enabled = enabled_paths(q, response, {})

    assert "carer~0/date-given~0" in enabled
    assert "carer~1/date-given~0" not in enabled


def test_a_disabled_parent_disables_its_children_whatever_their_own_rules():
    q = make_questionnaire(
        make_item("open", "boolean"),
        make_group(
            "details",
            make_item("always", "string"),
            make_item("when-yes", "string", enableWhen=[when("open", "=", answerBoolean=True)]),
            enableWhen=[when("open", "=", answerBoolean=False)],
        ),
    )
    response = answer(make_response(q), "open", {"valueBoolean": True})

    enabled = enabled_paths(q, response, {})

    assert enabled == {"open~0"}


def test_a_stale_answer_to_a_disabled_question_does_not_keep_its_follow_ups_open():
    """R4: a disabled item counts as unanswered, so a chain of follow-ups closes with its first question."""
    q = make_questionnaire(
        make_item("interpreter-needed", "boolean"),
        make_item("family-interpreted", "boolean", enableWhen=[when("interpreter-needed", "=", answerBoolean=True)]),
        make_item("why", "text", enableWhen=[when("family-interpreted", "=", answerBoolean=True)]),
        make_item(
            "checked",
            "boolean",
            extensions=[
                enable_when_expression("%resource.repeat(item).where(linkId = 'family-interpreted').answer.exists()")
            ],
        ),
    )
    response = make_response(q)
    answer(response, "interpreter-needed", {"valueBoolean": True})
    answer(response, "family-interpreted", {"valueBoolean": True})
    assert enabled_paths(q, response, {}) == {"interpreter-needed~0", "family-interpreted~0", "why~0", "checked~0"}

    answer(response, "interpreter-needed", {"valueBoolean": False})  # the earlier answers stay in the response

    assert enabled_paths(q, response, {}) == {"interpreter-needed~0"}


def test_a_later_question_can_open_an_earlier_one():
    q = make_questionnaire(
        make_item("reason", "text", enableWhen=[when("seen", "=", answerBoolean=False)]),
        make_item("seen", "boolean"),
    )
    response = answer(make_response(q), "seen", {"valueBoolean": False})

    assert "reason~0" in enabled_paths(q, response, {})


def test_display_text_has_a_path_and_follows_its_own_rules_and_its_group():
    q = make_questionnaire(
        make_item("given", "boolean"),
        make_group(
            "g",
            make_item("intro", "display", text="Read this first."),
            make_item("q", "string"),
            make_item("warning", "display", enableWhen=[when("given", "=", answerBoolean=False)]),
        ),
    )
    response = make_response(q)

    assert enabled_paths(q, response, {}) == {"given~0", "g~0", "g~0/intro~0", "g~0/q~0"}
    answer(response, "given", {"valueBoolean": False})
    assert "g~0/warning~0" in enabled_paths(q, response, {})


def test_a_round_that_would_read_the_same_answers_is_not_asked(monkeypatch):
    """Issue 14: the rounds stop once the answers outside the enabled items are all gone (nothing left to change
    what is enabled); the stale answer's chain still closes, round by round, as before."""
    import app.forms.enable_when as enable_when

    rounds = []
    one_round = enable_when._one_round
    monkeypatch.setattr(enable_when, "_one_round", lambda *args: rounds.append(1) or one_round(*args))
    q = make_questionnaire(
        make_item("interpreter-needed", "boolean"),
        make_item("family-interpreted", "boolean", enableWhen=[when("interpreter-needed", "=", answerBoolean=True)]),
        make_item("why", "text", enableWhen=[when("family-interpreted", "=", answerBoolean=True)]),
    )
    response = answer(make_response(q), "interpreter-needed", {"valueBoolean": True})
    answer(response, "family-interpreted", {"valueBoolean": True})
    assert enabled_paths(q, response, {}) == {"interpreter-needed~0", "family-interpreted~0", "why~0"}
    assert len(rounds) == 1  # every answer is in an enabled item: no second round

    rounds.clear()
    answer(response, "interpreter-needed", {"valueBoolean": False})  # the later answer stays in the response
    assert enabled_paths(q, response, {}) == {"interpreter-needed~0"}
    assert len(rounds) == 2  # the first still opens "why"; the second drops the stale answer; a third would read
    # what the second did (it was asked before, and found the same)

    rounds.clear()
    answer(response, "why", {"valueString": "asked by the family"})
    assert enabled_paths(q, response, {}) == {"interpreter-needed~0"}
    assert len(rounds) == 3  # each round closes one more follow-up, until one finds what the last did
