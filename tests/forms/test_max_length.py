"""Typed answers are bounded: each string or text item of a checklist in use declares its maxLength (lint), and
validation refuses a longer answer, saying how long it may be and how long it is (DEFAULT_MAX_LENGTH where an
item declares none, e.g. an archived version)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.forms import CHECKPOINTS, DEFAULT_MAX_LENGTH, Issue, definitions, load_checklists, validate
from app.forms.lint import code_lists, lint_checklists, lint_questionnaire
from tests.answering import answer_everything, items_with
from tests.forms.builders import answer, hidden, initial_expression, make_group, make_item, make_questionnaire
from tests.forms.builders import make_response as new_response
from tests.forms.test_checklist_files import NO_CONCERNS
from tests.forms.test_checklist_files import env as checklist_file_env

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS, MAPPINGS = ROOT / "checklists", ROOT / "fhir_mappings"
CODES = code_lists(MAPPINGS)


def typed(length: int) -> dict:
    return {"valueString": "x" * length}


# ---------------------------------------------------------------- validation


def test_a_text_answer_longer_than_its_max_length_is_refused_with_both_lengths():
    q = make_questionnaire(make_item("details", "text", text="Details of the concern", maxLength=4000))

    assert validate(q, answer(new_response(q), "details", typed(4000)), {}) == []
    assert validate(q, answer(new_response(q), "details", typed(5000)), {}) == [
        Issue("details~0", "details", "Enter at most 4000 characters (this answer has 5000): Details of the concern")
    ]


def test_a_one_line_answer_is_held_to_its_own_max_length():
    q = make_questionnaire(make_group("g", make_item("name", "string", text="Name", maxLength=500)))

    assert validate(q, answer(new_response(q), "name", typed(500)), {}) == []
    [issue] = validate(q, answer(new_response(q), "name", typed(501)), {})
    assert (issue.path, issue.message) == ("g~0/name~0", "Enter at most 500 characters (this answer has 501): Name")


def test_an_item_that_declares_no_max_length_takes_the_default():
    q = make_questionnaire(
        make_item("plan", "text", text="Plan"), make_item("lang", "open-choice", options=["not-known"])
    )

    within = answer(answer(new_response(q), "plan", typed(DEFAULT_MAX_LENGTH)), "lang", typed(DEFAULT_MAX_LENGTH))
    assert validate(q, within, {}) == []
    over = answer(answer(new_response(q), "plan", typed(DEFAULT_MAX_LENGTH + 1)), "lang", typed(5000))
    assert [i.message for i in validate(q, over, {})] == [
        f"Enter at most {DEFAULT_MAX_LENGTH} characters (this answer has {DEFAULT_MAX_LENGTH + 1}): Plan",
        f"Enter at most {DEFAULT_MAX_LENGTH} characters (this answer has 5000): Lang",
    ]


def test_every_answer_of_a_repeating_question_is_held_to_it():
    q = make_questionnaire(make_item("names", "string", text="Names", repeats=True, maxLength=10))

    refused = validate(q, answer(new_response(q), "names", typed(10), typed(11)), {})

    assert [i.message for i in refused] == ["Enter at most 10 characters (this answer has 11): Names"]


def test_what_neosafe_pre_filled_and_the_clinician_cannot_change_never_blocks_a_checklist():
    """A source's own error text, pre-filled read-only, may be longer than the item allows: the clinician could not
    shorten it, so it must not stop the checklist being saved."""
    long_text = "'" + "y" * 600 + "'"
    q = make_questionnaire(
        make_item("detail", "string", readOnly=True, maxLength=500, extensions=[initial_expression(long_text)]),
        make_item("internal", "string", maxLength=500, extensions=[hidden(), initial_expression(long_text)]),
    )
    response = new_response(q)
    assert len(items_with(response, "detail")[0]["answer"][0]["valueString"]) == 600

    assert validate(q, response, {}) == []


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_every_typed_question_of_a_checklist_in_use_declares_its_max_length(checkpoint):
    q = load_checklists(CHECKLISTS).for_checkpoint(checkpoint)
    typed_items = [item for item in definitions(q) if item.get("type") in ("string", "text", "open-choice")]

    assert typed_items
    assert all(isinstance(item.get("maxLength"), int) and item["maxLength"] > 0 for item in typed_items)
    assert {item["maxLength"] for item in typed_items if item["type"] == "text"} == {4000}


def test_five_thousand_characters_in_a_real_checklist_text_item_are_refused():
    q = load_checklists(CHECKLISTS).for_checkpoint("admission")
    env = checklist_file_env(q, NO_CONCERNS)
    response = answer_everything(q, new_response(q, env))
    for item in items_with(response, "A10-concern-now.concern"):
        item["answer"] = [{"valueBoolean": True}]
    for item in items_with(response, "A10-concern-now.details"):
        item["answer"] = [typed(5000)]

    issues = validate(q, response, env)

    assert [(i.link_id, i.message) for i in issues] == [
        (
            "A10-concern-now.details",
            "Enter at most 4000 characters (this answer has 5000): The concern, who was told and what happens next",
        )
    ]


# ---------------------------------------------------------------- lint


def lint(q: dict, *, in_use: bool = True) -> list[str]:
    return [f"{p.where}: {p.message}" for p in lint_questionnaire(q, name="test.json", codes=CODES, in_use=in_use)]


def test_lint_wants_a_max_length_on_every_typed_question_of_a_checklist_in_use():
    bad = make_questionnaire(
        make_group(
            "g",
            make_item("name", "string"),
            make_item("plan", "text"),
            make_item("lang", "open-choice", options=["not-known"]),
            make_item("ok", "text", maxLength=4000),
        )
    )

    assert lint(bad) == [
        "name: a question of type string needs maxLength: the longest answer, in characters, NeoSafe takes",
        "plan: a question of type text needs maxLength: the longest answer, in characters, NeoSafe takes",
        "lang: a question of type open-choice needs maxLength: the longest answer, in characters, NeoSafe takes",
    ]
    assert lint(bad, in_use=False) == []  # an archived version stays as it was: the default holds its amendments


def test_lint_refuses_a_max_length_that_means_nothing():
    bad = make_questionnaire(
        make_item("seen", "boolean", maxLength=10),
        make_item("name", "string", maxLength=0),
    )

    assert lint(bad) == [
        "seen: maxLength is used only on a question answered by typing (open-choice, string, text)",
        "name: maxLength 0 leaves no room for an answer",
    ]


def test_lint_of_the_folder_holds_the_checklists_in_use_to_it_and_not_the_archive(tmp_path):
    folder = tmp_path / "checklists"
    shutil.copytree(CHECKLISTS, folder, ignore=shutil.ignore_patterns("*.md"))
    admission = json.loads((folder / "admission.json").read_text())
    details = next(item for item in definitions(admission) if item["linkId"] == "A10-concern-now.details")
    details.pop("maxLength")
    (folder / "admission.json").write_text(json.dumps(admission))
    (folder / "archive" / "admission-0.9.0.json").write_text(json.dumps({**admission, "version": "0.9.0"}))

    assert [str(p) for p in lint_checklists(folder, MAPPINGS)] == [
        "admission.json: A10-concern-now.details: a question of type text needs maxLength: "
        "the longest answer, in characters, NeoSafe takes"
    ]
