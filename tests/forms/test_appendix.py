"""The checklists README's list of every question is drawn from the Questionnaires, so a reviewer reads what NeoSafe
asks, not what it once asked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from app.forms import load_checklists
from app.forms.appendix import HEADING, appendix, with_appendix
from app.forms.extensions import ENABLE_WHEN_EXPRESSION, INITIAL_EXPRESSION

CHECKLISTS = Path(__file__).resolve().parents[2] / "checklists"


def test_the_readme_lists_every_question_of_the_checklists_in_use(capsys):
    main(["checklists", "appendix", "--check"])  # exits 1, naming the command to run, if it is out of date


def test_check_fails_and_names_the_command_when_a_question_changed(tmp_path, capsys):
    folder = tmp_path / "checklists"
    shutil.copytree(CHECKLISTS, folder)
    admission = folder / "admission.json"
    admission.write_text(admission.read_text(encoding="utf-8").replace("A10. ", "A10 (changed). ", 1), encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["checklists", "appendix", "--check", "--checklists", str(folder)])
    assert exited.value.code == 1
    assert "neosafe checklists appendix" in capsys.readouterr().err
    main(["checklists", "appendix", "--checklists", str(folder)])  # drawn again, it passes
    main(["checklists", "appendix", "--check", "--checklists", str(folder)])
    assert "A10 (changed). " in (folder / "README.md").read_text(encoding="utf-8")


def _item(link: str, text: str, kind: str, **more) -> dict:
    return {"linkId": link, "text": text, "type": kind, **more}


def _fhirpath(url: str, expression: str, description: str | None = None) -> dict:
    value = {"language": "text/fhirpath", "expression": expression}
    return {"url": url, "valueExpression": value | ({"description": description} if description else {})}


def test_answers_triggers_and_prefill_are_said_in_words(tmp_path):
    yes_no = [
        {"valueCoding": {"code": c, "display": d}} for c, d in (("yes", "Yes"), ("no", "No"), ("nk", "Not known"))
    ]
    questionnaire = {
        "resourceType": "Questionnaire",
        "url": "https://example.org/Questionnaire/admission",
        "version": "9.9.9",
        "status": "active",
        "item": [
            _item(
                "G",
                "G1. A group | with a bar",
                "group",
                required=True,
                repeats=True,
                item=[
                    _item("G.q", "Seen?", "choice", required=True, answerOption=yes_no),
                    _item(
                        "G.plan",
                        "Plan",
                        "text",
                        required=True,
                        enableWhen=[
                            {"question": "G.q", "operator": "=", "answerCoding": {"code": "no"}},
                            {"question": "G.q", "operator": "=", "answerCoding": {"code": "nk"}},
                        ],
                    ),
                    _item(
                        "G.date",
                        "Date",
                        "date",
                        enableWhen=[{"question": "G.plan", "operator": "exists", "answerBoolean": True}],
                    ),
                    _item("G.name", "Name", "string", extension=[_fhirpath(INITIAL_EXPRESSION, "%picture.name")]),
                    _item(
                        "G.why",
                        "Why",
                        "text",
                        extension=[
                            _fhirpath(ENABLE_WHEN_EXPRESSION, "%picture.records.exists()", "any record was found")
                        ],
                    ),
                    _item(
                        "G.raw", "Raw", "text", extension=[_fhirpath(ENABLE_WHEN_EXPRESSION, "%picture.openTasks > 0")]
                    ),
                ],
            )
        ],
    }
    (tmp_path / "admission.json").write_text(json.dumps(questionnaire), encoding="utf-8")
    text = appendix(load_checklists(tmp_path))
    assert text.startswith(HEADING)
    assert "### admission (`admission.json`, version 9.9.9)" in text
    assert "| **G1. A group \\| with a bar** (repeats) | | Yes |  |" in text
    assert "| Seen? | Yes / No / Not known | Yes |  |" in text
    assert "| Plan | text | Yes | 'Seen?' = No or Not known |" in text
    assert "| Date | date | No | 'Plan' is answered |" in text
    assert "| Name (pre-filled) | string | No |  |" in text
    assert "| Why | text | No | any record was found |" in text
    assert "| Raw | text | No | `%picture.openTasks > 0` |" in text


def test_the_text_before_the_appendix_is_kept_and_a_readme_without_one_gains_it(tmp_path):
    checklists = load_checklists(CHECKLISTS)
    readme = "# Checklists\n\nReviewed text.\n\n" + HEADING + "\n\nold list\n"
    drawn = with_appendix(readme, checklists)
    assert drawn.startswith("# Checklists\n\nReviewed text.\n\n" + HEADING)
    assert "old list" not in drawn
    assert with_appendix("# Checklists\n", checklists) == "# Checklists\n\n" + appendix(checklists)
