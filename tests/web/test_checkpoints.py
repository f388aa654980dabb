"""Every checkpoint's checklist over HTTP: draft, resume, submit, amend; and a checklist changed since."""

from __future__ import annotations

import json
import shutil

import pytest

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.config import PROJECT_ROOT
from app.forms import load_checklists, populate, validate
from tests.answering import answer_everything
from tests.factories import create_baby


@pytest.mark.parametrize("checkpoint", ["admission", "transfer", "discharge"])
def test_draft_submit_and_amend_each_checkpoint(live, fhir, checkpoint):
    baby = create_baby(fhir["neonatal"])
    base = f"/api/patients/{baby}/checklists/{checkpoint}"
    with live.client("safeguarding-lead") as api:
        questionnaire = api.get(f"/api/checklists/{checkpoint}").json()
        assert api.put(f"{base}/draft", json=api.get(base).json()).status_code == 200
        resumed = api.get(base).json()
        assert resumed["status"] == "in-progress"

        first = api.post(f"/api/patients/{baby}/assessments", json=answer_everything(questionnaire, resumed))
        assert first.status_code == 201, first.text
        record = first.json()["id"]
        latest = api.get(f"/api/patients/{baby}/assessments/{record}/versions").json()[-1]
        amended = api.post(f"/api/patients/{baby}/assessments/{record}/amendments", json=latest)
        assert amended.status_code == 201, amended.text

    written = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{record}").json()
    assert [e["resource"]["status"] for e in written["entry"]] == ["amended"]
    assert written["entry"][0]["resource"]["questionnaire"] == f"{questionnaire['url']}|{questionnaire['version']}"


def test_a_response_validates_with_the_checklist_version_it_was_made_on(tmp_path):
    folder = tmp_path / "checklists"
    shutil.copytree(PROJECT_ROOT / "checklists", folder)
    old = json.loads((folder / "admission.json").read_text())
    (folder / "archive").mkdir(exist_ok=True)  # the earlier released versions are already there
    (folder / "archive" / f"admission-{old['version']}.json").write_text(json.dumps(old))
    new = {**old, "version": "99.0.0", "item": [i for i in old["item"] if i["linkId"] != "A10-concern-now"]}
    (folder / "admission.json").write_text(json.dumps(new))

    checklists = load_checklists(folder)
    env = {"picture": {"records": [], "sources": [], "people": [], "baby": {}}, "patient": {}, "encounter": {}}
    made_on_old = populate(old, env=env, subject={"display": "Test Baby"}, encounter=None).response

    assert checklists.for_checkpoint("admission")["version"] == "99.0.0"
    assert checklists.for_response(made_on_old)["version"] == old["version"]
    assert checklists.checkpoint_of(checklists.for_response(made_on_old)) == "admission"
    old_issues = {i.link_id for i in validate(checklists.for_response(made_on_old), made_on_old, env)}
    assert "A10-concern-now.concern" in old_issues  # asked on the old version, not on the new one
    assert "A10-concern-now.concern" not in {i.link_id for i in validate(new, made_on_old, env)}
