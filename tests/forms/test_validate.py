"""Validation (required, minOccurs/maxOccurs, answer kinds, NHS.UK messages) and pruning before submission."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.forms import CHECKPOINTS, Issue, canonical, enabled_paths, load_checklists, prune, validate
from app.forms.validate import required_message
from tests.answering import answer_everything
from tests.forms.builders import (
    SUBJECT,
    SYSTEM,
    answer,
    hidden,
    initial_expression,
    items_with,
    make_coding,
    make_group,
    make_help,
    make_item,
    make_questionnaire,
    make_response,
    max_occurs,
    min_occurs,
    when,
)
from tests.forms.test_checklist_files import NO_CONCERNS
from tests.forms.test_checklist_files import env as checklist_file_env


def messages(issues: list[Issue]) -> dict[str, str]:
    return {i.path: i.message for i in issues}


def test_required_questions_are_named_with_what_to_do():
    q = make_questionnaire(
        make_group(
            "g",
            make_item("registered", "boolean", text="Is the baby registered with a GP?", required=True),
            make_item("practice", "string", text="GP practice", required=True),
            make_item("date-told", "date", text="Date told", required=True),
            make_item("outcome", "choice", text="Outcome of asking", options=["a", "b"], required=True),
            make_item("court", "choice", text="Is a court order in place?", options=["yes", "no"], required=True),
            make_item("concerns", "choice", text="Concerns now", options=["a", "b"], repeats=True, required=True),
            make_item("why", "text", text="Why is no father recorded?", required=True),
            make_item("optional", "string"),
            required=True,
        )
    )

    assert messages(validate(q, make_response(q), {})) == {
        "g~0/registered~0": "Select yes or no: Is the baby registered with a GP?",
        "g~0/practice~0": "Enter GP practice",
        "g~0/date-told~0": "Enter date told",
        "g~0/outcome~0": "Select outcome of asking",
        "g~0/court~0": "Select an answer: Is a court order in place?",
        "g~0/concerns~0": "Select at least one option: Concerns now",
        "g~0/why~0": "Enter an answer: Why is no father recorded?",
    }


def test_a_required_group_with_no_required_question_asks_for_one_answer():
    q = make_questionnaire(make_group("g", make_item("a"), make_item("b"), text="Contacts", required=True))

    assert messages(validate(q, make_response(q), {})) == {"g~0": "Answer at least one question in: Contacts"}
    assert validate(q, answer(make_response(q), "b", {"valueString": "x"}), {}) == []


def test_false_and_zero_are_answers():
    q = make_questionnaire(make_item("seen", "boolean", required=True), make_item("score", "integer", required=True))
    response = answer(answer(make_response(q), "seen", {"valueBoolean": False}), "score", {"valueInteger": 0})

    assert validate(q, response, {}) == []


def test_a_required_question_that_does_not_apply_is_not_asked_for():
    q = make_questionnaire(
        make_item("given", "boolean", required=True),
        make_item("date", "date", required=True, enableWhen=[when("given", "=", answerBoolean=True)]),
        make_group(
            "g",
            make_item("inside", "string", required=True),
            required=True,
            enableWhen=[when("given", "=", answerBoolean=True)],
        ),
    )
    response = answer(make_response(q), "given", {"valueBoolean": False})

    assert validate(q, response, {}) == []
    answer(response, "given", {"valueBoolean": True})
    assert set(messages(validate(q, response, {}))) == {"date~0", "g~0/inside~0"}


def test_read_only_and_hidden_items_are_never_demanded_of_the_clinician():
    q = make_questionnaire(
        make_item("source", "string", required=True, readOnly=True),
        make_item("internal", "string", required=True, extensions=[hidden()]),
        make_group("hidden-group", make_item("inside", "string", required=True), extensions=[hidden()]),
    )

    assert validate(q, make_response(q), {}) == []


def test_an_optional_group_left_empty_does_not_need_its_required_questions():
    q = make_questionnaire(
        make_group("extra", make_item("name", "string", required=True), make_item("note", "string")),
    )
    response = make_response(q)

    assert validate(q, response, {}) == []
    answer(response, "note", {"valueString": "started"})
    assert messages(validate(q, response, {})) == {"extra~0/name~0": "Enter name"}


def repeating_carers(*extensions, required: bool = True) -> dict:
    return make_questionnaire(
        make_group(
            "carer",
            make_item("name", "string", text="Name", required=True),
            make_item("icon", "boolean", text="ICON given?", required=True),
            text="Carer",
            repeats=True,
            required=required,
            extensions=list(extensions),
        )
    )


def with_entries(q: dict, count: int) -> dict:
    response = make_response(q)
    while len(items_with(response, "carer")) < count:
        response["item"].append({"linkId": "carer", "item": [{"linkId": "name"}, {"linkId": "icon"}]})
    return response


def fill_entry(response: dict, entry: int) -> None:
    answer(response, "name", {"valueString": f"Carer {entry}"}, entry=entry)
    answer(response, "icon", {"valueBoolean": False}, entry=entry)


def test_a_required_repeating_group_with_no_entry_filled_asks_for_the_first_entry_only():
    q = repeating_carers()
    response = with_entries(q, 3)

    assert messages(validate(q, response, {})) == {
        "carer~0/name~0": "Enter name for Carer 1",
        "carer~0/icon~0": "Select yes or no for Carer 1: ICON given?",
    }


def test_an_empty_extra_entry_of_a_repeating_group_never_blocks_submission():
    q = repeating_carers()
    response = with_entries(q, 3)
    fill_entry(response, 1)

    assert validate(q, response, {}) == []
    answer(response, "name", {"valueString": "half filled"}, entry=2)
    assert messages(validate(q, response, {})) == {"carer~2/icon~0": "Select yes or no for half filled: ICON given?"}


def test_min_occurs_on_a_repeating_group():
    q = repeating_carers(min_occurs(2))
    response = with_entries(q, 2)
    fill_entry(response, 0)

    assert messages(validate(q, response, {})) == {"carer~0": "Enter at least 2 entries for: Carer"}
    fill_entry(response, 1)
    assert validate(q, response, {}) == []


def test_max_occurs_on_a_repeating_group():
    q = repeating_carers(max_occurs(2))
    response = with_entries(q, 4)
    for entry in (0, 1, 3):
        fill_entry(response, entry)

    assert messages(validate(q, response, {})) == {"carer~3": "Leave no more than 2 entries filled in for: Carer"}


def test_min_and_max_occurs_on_a_repeating_question():
    q = make_questionnaire(
        make_item(
            "factors",
            "choice",
            text="Risk factors",
            options=["a", "b", "c", "d"],
            repeats=True,
            required=True,
            extensions=[min_occurs(2), max_occurs(3)],
        )
    )
    codings = [{"valueCoding": make_coding(c)} for c in "abcd"]
    response = make_response(q)

    assert messages(validate(q, response, {})) == {"factors~0": "Select at least one option: Risk factors"}
    answer(response, "factors", *codings[:1])
    assert messages(validate(q, response, {})) == {"factors~0": "Select at least 2 answers: Risk factors"}
    answer(response, "factors", *codings[:3])
    assert validate(q, response, {}) == []
    answer(response, "factors", *codings)
    assert messages(validate(q, response, {})) == {"factors~0": "Select no more than 3 answers: Risk factors"}


def test_min_occurs_applies_only_to_required_items():
    q = make_questionnaire(make_item("names", "string", repeats=True, extensions=[min_occurs(3)]))

    assert validate(q, answer(make_response(q), "names", {"valueString": "one"}), {}) == []


@pytest.mark.parametrize(
    ("kind", "value", "problem"),
    [
        ("boolean", {"valueString": "yes"}, "Give a boolean answer: Q"),
        ("integer", {"valueDecimal": 1.5}, "Give a integer answer: Q"),
        ("date", {"valueDateTime": "2026-11-20T10:00:00Z"}, "Give a date answer: Q"),
        ("choice", {"valueCoding": make_coding("maybe")}, "Select one of the options ('maybe' is not one): Q"),
        ("open-choice", {"valueCoding": make_coding("maybe")}, "Select one of the options ('maybe' is not one): Q"),
    ],
)
def test_an_answer_of_the_wrong_kind_is_refused(kind, value, problem):
    options = {"options": ["yes", "no"]} if "choice" in kind else {}
    q = make_questionnaire(make_item("q", kind, text="Q", **options))

    assert messages(validate(q, answer(make_response(q), "q", value), {})) == {"q~0": problem}


def test_open_choice_takes_typed_text_and_one_answer_only_where_it_does_not_repeat():
    q = make_questionnaire(make_item("lang", "open-choice", text="Language", options=["polish"]))
    response = answer(make_response(q), "lang", {"valueString": "Tigrinya"})

    assert validate(q, response, {}) == []
    answer(response, "lang", {"valueString": "Tigrinya"}, {"valueCoding": make_coding("polish")})
    assert messages(validate(q, response, {})) == {"lang~0": "Give one answer only: Language"}


def test_prune_removes_answers_of_disabled_items_and_empty_items():
    q = make_questionnaire(
        make_item("told", "boolean"),
        make_item("who", "string", enableWhen=[when("told", "=", answerBoolean=True)]),
        make_item("why-not", "text", enableWhen=[when("told", "=", answerBoolean=False)]),
        make_group("g", make_item("never-answered"), make_help("g.help")),
    )
    response = make_response(q)
    answer(response, "told", {"valueBoolean": True})
    answer(response, "who", {"valueString": "Social worker"})
    answer(response, "why-not", {"valueString": "typed before the answer changed"})
    answer(response, "told", {"valueBoolean": False})

    pruned = prune(q, response, {})

    assert pruned["item"] == [
        {"linkId": "told", "text": "Told", "answer": [{"valueBoolean": False}]},
        {"linkId": "why-not", "text": "Why not", "answer": [{"valueString": "typed before the answer changed"}]},
    ]
    assert items_with(response, "who")[0]["answer"]  # the draft itself is untouched


def test_prune_keeps_hidden_items_with_their_answers():
    q = make_questionnaire(
        make_item("visible", "string"),
        make_item("picture-version", "string", extensions=[hidden(), initial_expression("'v3'")]),
    )
    response = answer(make_response(q), "visible", {"valueString": "x"})

    assert prune(q, response, {})["item"][1] == {
        "linkId": "picture-version",
        "text": "Picture version",
        "answer": [{"valueString": "v3"}],
    }


def test_prune_drops_items_the_questionnaire_does_not_define():
    q = make_questionnaire(make_item("known", "string"))
    response = answer(make_response(q), "known", {"valueString": "x"})
    response["item"].append({"linkId": "smuggled", "answer": [{"valueString": "y"}]})

    assert [i["linkId"] for i in prune(q, response, {})["item"]] == ["known"]


def test_prune_drops_a_stale_chain_of_follow_ups():
    q = make_questionnaire(
        make_item("a", "boolean"),
        make_item("b", "boolean", enableWhen=[when("a", "=", answerBoolean=True)]),
        make_item("c", "string", enableWhen=[when("b", "=", answerBoolean=True)]),
    )
    response = make_response(q)
    for link, value in [("a", {"valueBoolean": False}), ("b", {"valueBoolean": True}), ("c", {"valueString": "x"})]:
        answer(response, link, value)

    assert [i["linkId"] for i in prune(q, response, {})["item"]] == ["a"]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("integer", "DASH score", "Enter DASH score"),
        ("dateTime", "Date and time signed", "Enter date and time signed"),
        ("choice", "Role", "Select role"),
    ],
)
def test_required_message_keeps_acronyms(kind, text, message):
    assert required_message({"linkId": "x", "type": kind, "text": text}) == message


# ---------------------------------------------------------------- completeness against the Questionnaire


CHECKLISTS = load_checklists(Path(__file__).resolve().parents[2] / "checklists")


def checklist_env(checkpoint: str) -> dict:
    """The launch context of the checklist-file tests, with the picture of a family nobody has a record of."""
    picture = {**NO_CONCERNS, "checkpoint": checkpoint, "openTasks": 0}
    context = checklist_file_env(CHECKLISTS.for_checkpoint(checkpoint), picture)
    context.pop("resource")
    return context


def bare_response(questionnaire: dict, *items: dict) -> dict:
    """What an API client may send: a completed response holding only the items it chose to."""
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": canonical(questionnaire),
        "subject": SUBJECT,
        **({"item": list(items)} if items else {}),
    }


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_an_empty_response_to_a_real_checklist_names_every_required_item_that_applies(checkpoint):
    q, env = CHECKLISTS.for_checkpoint(checkpoint), checklist_env(checkpoint)
    shown = enabled_paths(q, make_response(q, env), env)
    expected = {item["linkId"] for item in q["item"] if item.get("required") and f"{item['linkId']}~0" in shown}

    issues = validate(q, bare_response(q), env)

    assert expected  # every checklist has items that always apply
    assert {i.path.split("/")[0] for i in issues} == {f"{link_id}~0" for link_id in expected}
    assert all(i.message.startswith(("Select", "Enter", "Answer")) for i in issues)


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_a_real_checklist_answered_in_full_has_no_issues(checkpoint):
    q, env = CHECKLISTS.for_checkpoint(checkpoint), checklist_env(checkpoint)

    assert validate(q, answer_everything(q, make_response(q, env)), env) == []


def test_a_required_question_left_out_of_a_group_that_is_there_is_asked_for():
    q = make_questionnaire(
        make_group(
            "g",
            make_item("told", "boolean", text="Has the GP been told?", required=True),
            make_item("date-told", "date", text="Date told", required=True),
            required=True,
        )
    )
    response = bare_response(q, {"linkId": "g", "item": [{"linkId": "told", "answer": [{"valueBoolean": True}]}]})

    assert validate(q, response, {}) == [Issue("g~0/date-told~0", "date-told", "Enter date told")]


def test_a_required_question_left_out_is_asked_for_only_when_it_applies():
    q = make_questionnaire(
        make_item("told", "boolean", required=True),
        make_item(
            "date-told", "date", text="Date told", required=True, enableWhen=[when("told", "=", answerBoolean=True)]
        ),
    )

    assert validate(q, bare_response(q, {"linkId": "told", "answer": [{"valueBoolean": False}]}), {}) == []
    assert messages(validate(q, bare_response(q, {"linkId": "told", "answer": [{"valueBoolean": True}]}), {})) == {
        "date-told~0": "Enter date told"
    }


def test_a_required_group_left_out_entirely_is_asked_for():
    q = make_questionnaire(
        make_item("note", "string"),
        make_group("g", make_item("name", "string", text="Name", required=True), required=True),
        make_group("contacts", make_item("a"), make_item("b"), text="Contacts", required=True),
        make_group("optional", make_item("inside", "string", required=True)),
    )

    assert messages(validate(q, bare_response(q, {"linkId": "note", "answer": [{"valueString": "x"}]}), {})) == {
        "g~0/name~0": "Enter name",
        "contacts~0": "Answer at least one question in: Contacts",
    }


def test_a_required_repeating_group_left_out_counts_its_minimum():
    q = repeating_carers(min_occurs(2))

    assert messages(validate(q, bare_response(q), {})) == {
        "carer~0": "Enter at least 2 entries for: Carer",
        "carer~0/name~0": "Enter name for Carer 1",
        "carer~0/icon~0": "Select yes or no for Carer 1: ICON given?",
    }


def test_the_dash_and_marac_follow_up_of_d4_left_out_after_a_disclosure_is_asked_for():
    q, env = CHECKLISTS.for_checkpoint("discharge"), checklist_env("discharge")
    response = answer_everything(q, make_response(q, env))
    disclosed = {"system": SYSTEM, "code": "da-enquiry-disclosed"}
    for item in items_with(response, "D4-da-indicated.identified"):
        item["answer"] = [{"valueCoding": {"system": SYSTEM, "code": "yes"}}]
    for item in items_with(response, "D4-da-enquiry-private.outcome"):
        item["answer"] = [{"valueCoding": disclosed}]
    assert validate(q, response, env) == []

    response["item"] = [i for i in response["item"] if i["linkId"] != "D4-da-risk-assessment"]
    issues = validate(q, response, env)

    assert {i.link_id for i in issues} == {
        "D4-da-risk-assessment.dash-status",
        "D4-da-risk-assessment.marac-criteria",
        "D4-da-risk-assessment.idva-referral",
        "D4-da-risk-assessment.safety-plan",
    }
    assert {i.path.split("/")[0] for i in issues} == {"D4-da-risk-assessment~0"}


def test_an_item_the_checklist_does_not_define_there_is_an_issue_not_dropped():
    q = make_questionnaire(make_item("known", "string"), make_group("g", make_item("inside", "string")))
    response = bare_response(
        q,
        {"linkId": "known", "answer": [{"valueString": "x"}]},
        {"linkId": "smuggled", "answer": [{"valueString": "y"}]},
        {"linkId": "g", "item": [{"linkId": "known", "answer": [{"valueString": "in the wrong place"}]}]},
    )

    assert validate(q, response, {}) == [
        Issue("g~0/known~0", "known", "Remove 'known': it is not a question of this checklist"),
        Issue("smuggled~0", "smuggled", "Remove 'smuggled': it is not a question of this checklist"),
    ]


def test_a_non_repeating_group_or_question_given_twice_is_an_issue():
    q = make_questionnaire(
        make_group("g", make_item("name", "string"), text="Father"),
        make_item("seen", "boolean", text="Seen?"),
    )
    response = bare_response(
        q,
        {"linkId": "g", "item": [{"linkId": "name", "answer": [{"valueString": "Piotr"}]}]},
        {"linkId": "g", "item": [{"linkId": "name", "answer": [{"valueString": "Tom"}]}]},
        {"linkId": "seen", "answer": [{"valueBoolean": True}]},
        {"linkId": "seen", "answer": [{"valueBoolean": False}]},
    )

    assert validate(q, response, {}) == [
        Issue("g~1", "g", "Give one entry only: Father"),
        Issue("seen~1", "seen", "Give this question once only: Seen?"),
    ]


def test_a_repeating_group_may_be_given_more_than_once():
    q = repeating_carers()
    response = with_entries(q, 2)
    fill_entry(response, 0)
    fill_entry(response, 1)

    assert validate(q, response, {}) == []
