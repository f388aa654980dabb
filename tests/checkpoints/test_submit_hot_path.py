"""What a submission computes once (issue 14 item 3): the %picture, and the FHIRPath input of enablement."""

from __future__ import annotations

import importlib

import app.forms.expressions as expressions
from app.checkpoints import DEMO_USERS, Checkpoints
from app.forms import enabled_paths
from tests.answering import answer_everything
from tests.factories import create_baby
from tests.forms.builders import enable_when_expression, make_item, make_questionnaire
from tests.written import delete_written


async def test_a_submission_builds_the_picture_context_once(settings, sources, fhir, monkeypatch):
    built = []
    nurse = DEMO_USERS["nurse"]
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        response = answer_everything(
            checkpoints.questionnaire("admission"), checkpoints.start_checklist(picture, "admission", nurse).response
        )
        for name in ("app.checkpoints.pictures", "app.checkpoints.submissions"):
            module = importlib.import_module(name)

            def counting(*args, real=module.picture_context, **kwargs):
                built.append(kwargs.get("checkpoint"))
                return real(*args, **kwargs)

            monkeypatch.setattr(module, "picture_context", counting)
        saved = await checkpoints.save(picture, "admission", nurse, response)
        monkeypatch.undo()
        delete_written(fhir["neonatal"], saved.assessment_id)
    assert built == ["admission"]


def test_enablement_over_one_response_prepares_its_input_once(monkeypatch):
    rules = [f"%resource.repeat(item).where(linkId = 'ask').answer.value contains {n}" for n in range(5)]
    questionnaire = make_questionnaire(
        make_item("ask", "integer"),
        *(make_item(f"then{n}", "string", extensions=[enable_when_expression(r)]) for n, r in enumerate(rules)),
    )
    asked = [{"linkId": "ask", "answer": [{"valueInteger": 3}]}]
    response = {"resourceType": "QuestionnaireResponse", "item": asked + [{"linkId": f"then{n}"} for n in range(5)]}
    scopes = []

    class Counted(expressions._Scope):
        def __init__(self) -> None:
            super().__init__()
            scopes.append(self)

    monkeypatch.setattr(expressions, "_Scope", Counted)
    assert enabled_paths(questionnaire, response, {}) == {"ask~0", "then3~0"}
    assert len(scopes) == 1
