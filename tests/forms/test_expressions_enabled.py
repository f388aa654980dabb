"""Enabled items read once per submission, and the same way by validate and prune: what is checked is what is kept."""

from __future__ import annotations

import importlib

import pytest

from app.checkpoints import DEMO_USERS, Checkpoints
from app.forms import prune, validate
from app.forms.validate import enabled_items
from tests.answering import answer_everything
from tests.factories import create_baby
from tests.forms.builders import make_coding, make_group, make_item, make_questionnaire, when
from tests.written import delete_written

YES = make_coding("yes")
QUESTIONNAIRE = make_questionnaire(
    make_group(
        "g",
        make_item("g.asked", "choice", answerOption=[{"valueCoding": YES}, {"valueCoding": make_coding("no")}]),
        make_item("g.detail", "string", enableWhen=[when("g.asked", "=", answerCoding=YES)], required=True),
        repeats=True,
    )
)


def entry(*items):
    return {"linkId": "g", "item": list(items)}


def test_an_entry_that_leaves_its_trigger_out_keeps_no_answer_validate_did_not_ask_for():
    # The second entry omits "asked": validate reads it as there and unanswered, so "detail" is not asked there.
    # prune once read the response as sent, found the first entry's "yes" instead and kept that answer.
    response = {
        "resourceType": "QuestionnaireResponse",
        "item": [
            entry({"linkId": "g.asked", "answer": [{"valueCoding": YES}]}, {"linkId": "g.detail"}),
            entry({"linkId": "g.detail", "answer": [{"valueString": "typed under a closed question"}]}),
        ],
    }

    assert "g~1/g.detail~0" not in enabled_items(QUESTIONNAIRE, response, {})
    assert [i.path for i in validate(QUESTIONNAIRE, response, {})] == ["g~0/g.detail~0"]  # only where it was asked
    kept = prune(QUESTIONNAIRE, response, {})
    assert "typed under a closed question" not in str(kept)
    assert [len(e.get("item", [])) for e in kept["item"]] == [1]  # the first entry's answer; the second is empty


@pytest.mark.parametrize("checkpoint", ["admission", "discharge"])
async def test_a_submission_reads_its_enabled_items_once(settings, sources, fhir, monkeypatch, checkpoint):
    readings: dict[str, list] = {"app.checkpoints.submissions": [], "app.forms.validate": []}

    def counting(module, real):
        def reading(questionnaire, response, env):
            readings[module].append(env.get("findings"))
            return real(questionnaire, response, env)

        return reading

    nurse = DEMO_USERS["nurse"]
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        response = answer_everything(
            checkpoints.questionnaire(checkpoint), checkpoints.start_checklist(picture, checkpoint, nurse).response
        )
        for name in readings:
            module = importlib.import_module(name)
            monkeypatch.setattr(module, "enabled_items", counting(name, module.enabled_items))
        saved = await checkpoints.save(picture, checkpoint, nurse, response)
        monkeypatch.undo()
        delete_written(fhir["neonatal"], saved.assessment_id)

    assert len(readings["app.checkpoints.submissions"]) == 1, "validate and prune share one reading"
    # what else reads them is the discharge findings' own pruning (%findings not yet known): never validate or prune
    assert all(findings == [] for findings in readings["app.forms.validate"])
    assert bool(readings["app.forms.validate"]) == (checkpoint == "discharge")
