"""`neosafe checklists lint` fails a checklist in use that shows clinicians authoring text (issue 13 item 2): a
proposal for clinical review, a source reference, a raw status code, wherever a clinician reads it. Review notes live
in checklists/README.md; an archived version stays byte for byte as responses were made on it, so it is not held to
this."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.forms.lint import lint_checklists
from tests.forms.builders import make_group, make_help, make_item, make_questionnaire
from tests.lint_command import lint_refusals

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS, MAPPINGS = ROOT / "checklists", ROOT / "fhir_mappings"
SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
YES, NO = ({"system": SYSTEM, "code": c, "display": c.capitalize()} for c in ("yes", "no"))


def checklist(
    *,
    description: str = "Asked at admission.",
    text: str = "Any concern now?",
    helped: str = "Say who.",
    option: str = "Someone else",
) -> dict:
    """A small checklist that passes lint: one question, its help, three options; each text can be spoiled."""
    question = make_item(
        "q1.concern",
        "choice",
        make_help("q1.concern.help", helped),
        text=text,
        required=True,
        answerOption=[{"valueCoding": YES}, {"valueCoding": NO}, {"valueString": option}],
    )
    return make_questionnaire(make_group("q1", make_help("q1.help", "One answer."), question), description=description)


def folder_with(tmp_path: Path, questionnaire: dict, *, archived: bool = False) -> Path:
    folder = tmp_path / "checklists"
    (folder / "archive").mkdir(parents=True)
    where = folder / "archive" / "test-0.0.1.json" if archived else folder / "test.json"
    where.write_text(json.dumps(questionnaire), encoding="utf-8")
    return folder


def test_a_clean_checklist_passes(tmp_path):
    assert lint_checklists(folder_with(tmp_path, checklist()), MAPPINGS) == []


@pytest.mark.parametrize(
    ("spoiled", "line"),
    [
        (
            {"helped": "Say who. Proposal for clinical review: within 24 h."},
            "test.json: q1.concern.help: help shows clinicians authoring text 'Proposal for clinical review'",
        ),
        ({"helped": "Say who. Source: SEED R4."}, "test.json: q1.concern.help: help shows clinicians authoring text"),
        ({"text": "Any concern now [2][15]?"}, "test.json: q1.concern: text shows clinicians authoring text '[2][15]'"),
        (
            {"option": "Someone else (SEED R2)"},
            "test.json: q1.concern: answer option shows clinicians authoring text 'SEED'",
        ),
        (
            {"helped": "Filled in by NeoSafe: found / none-found."},
            "test.json: q1.concern.help: help shows clinicians authoring text 'none-found'",
        ),
        (
            {"description": "Asked at admission. Note: a referral form has no safeguarding fields [18]."},
            "test.json: Questionnaire: description shows clinicians authoring text '[18]'",
        ),
        (
            {"helped": "Historic factors count (Case V: domestic abuse two years earlier)."},
            "test.json: q1.concern.help: help shows clinicians authoring text 'Case V'",
        ),
        (
            {"helped": "Alone means no one else in the room (NICE QS116 statement 1)."},
            "test.json: q1.concern.help: help shows clinicians authoring text 'NICE QS116'",
        ),
    ],
    ids=["proposal", "source", "citation", "option", "raw-status-code", "description", "case-review", "guidance"],
)
def test_authoring_text_a_clinician_would_read_fails_the_lint(tmp_path, capsys, spoiled, line):
    lines = lint_refusals(capsys, folder_with(tmp_path, checklist(**spoiled)), MAPPINGS)

    assert len(lines) == 1 and line in lines[0], lines
    assert lines[0].endswith("move review notes and references to checklists/README.md, and say a status in words")


def test_an_archived_version_is_left_as_it_was_released(tmp_path):
    spoiled = checklist(helped="Say who. Proposal for clinical review: within 24 h. Source: [8].")

    assert lint_checklists(folder_with(tmp_path, spoiled, archived=True), MAPPINGS) == []


def test_no_checklist_in_use_shows_authoring_text_but_the_released_versions_still_hold_theirs():
    """The review notes moved (checklists/README.md); the archived versions are the ones released, unchanged."""
    assert lint_checklists(CHECKLISTS, MAPPINGS) == []
    released = (CHECKLISTS / "archive" / "admission-1.2.0.json").read_text(encoding="utf-8")
    assert "Proposal for clinical review:" in released and "Source: SEED R4." in released
