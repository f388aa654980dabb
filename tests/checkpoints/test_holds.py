"""The discharge holds as data: `neosafe checklists lint` checks them against the discharge checklist, NeoSafe refuses
to start on holds it cannot evaluate, and a rule that fails to evaluate holds (it never lets a baby go home)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from app.assessments import AuditEvent, HoldOverride
from app.checkpoints import DEMO_USERS, Checkpoints, Forbidden
from app.checkpoints.holds import HoldRule, findings_of, load_holds
from app.config import ConfigError
from app.forms import load_checklists
from app.forms.lint import HOLDS
from app.handover import Finding
from tests.answering import answer_everything, items_with
from tests.factories import create_baby
from tests.lint_command import lint_refusals
from tests.written import delete_written

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS, MAPPINGS = ROOT / "checklists", ROOT / "fhir_mappings"


def mappings_with(tmp_path: Path, extra: str) -> Path:
    """A copy of the mappings whose holds file has one hold more."""
    folder = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, folder)
    holds = folder / HOLDS
    holds.write_text(holds.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return folder


def hold(expression: str, *, id: str = "broken", roles: str = '["safeguarding-lead"]') -> str:
    return f'[[holds]]\nid = "{id}"\nwords = "A broken hold"\nexpression = "{expression}"\noverride_roles = {roles}\n'


def test_the_real_holds_load_and_name_only_items_the_discharge_checklist_has():
    rules = load_holds(MAPPINGS / HOLDS, load_checklists(CHECKLISTS))
    assert {r.finding.id for r in rules} >= {
        "concern-at-discharge",
        "injury-unresolved",
        "dash-outstanding",
        "marac-idva-outstanding",
        "icon-not-given",
        "sole-carer-not-seen",
    }
    assert all(r.override_roles == {"safeguarding-lead"} for r in rules)


BROKEN = [
    (
        "a linkId the checklist does not have",
        hold("%resource.repeat(item).where(linkId = 'D12-no-such-item').exists()"),
        "expression names linkId 'D12-no-such-item', which no item has",
    ),
    ("FHIRPath that does not parse", hold("%resource.repeat(item).where("), "FHIRPath does not parse"),
    ("a variable other than %resource", hold("%picture.records.exists()"), "%picture is not a launch context"),
    ("a function fhirpathpy lacks", hold("%resource.noSuchFunction()"), "noSuchFunction() does not exist"),
    ("a second hold with the same id", hold("%resource.exists()", id="icon-not-given"), "id is used more than once"),
]


@pytest.mark.parametrize(("case", "extra", "line"), BROKEN, ids=[b[0] for b in BROKEN])
def test_the_lint_command_fails_on_a_broken_hold(tmp_path, capsys, case, extra, line):
    mappings = mappings_with(tmp_path, extra)

    lines = lint_refusals(capsys, CHECKLISTS, mappings)

    assert any(HOLDS in x and line in x for x in lines), lines
    with pytest.raises(ConfigError, match=re.escape(HOLDS)):  # and NeoSafe would not start on it
        load_holds(mappings / HOLDS, load_checklists(CHECKLISTS))


@pytest.mark.parametrize("roles", ['["matron"]', "[]", '"safeguarding-lead"'])
def test_a_hold_naming_no_role_neosafe_has_is_refused(tmp_path, roles):
    mappings = mappings_with(tmp_path, hold("%resource.exists()", roles=roles))
    with pytest.raises(ConfigError, match="override_roles"):
        load_holds(mappings / HOLDS, load_checklists(CHECKLISTS))


def test_a_hold_that_fails_to_evaluate_holds():
    # the lint refuses such a rule; if one ever met a response, it raises the finding rather than pass in silence
    failing = HoldRule(Finding("fails", "A rule that fails"), "%not_given.exists()", frozenset({"safeguarding-lead"}))
    assert [f.id for f in findings_of([failing], {"resourceType": "QuestionnaireResponse", "item": []})] == ["fails"]


async def test_an_override_is_audited_and_kept_and_a_refused_one_audited_too(settings, sources, fhir):
    nurse, lead = DEMO_USERS["nurse"], DEMO_USERS["safeguarding-lead"]
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        response = checkpoints.start_checklist(picture, "discharge", nurse).response
        for item in items_with(response, "D12-concern-at-discharge.concern"):
            item["answer"] = [{"valueBoolean": True}]
        response = answer_everything(checkpoints.questionnaire("discharge"), response)
        saved = await checkpoints.save(picture, "discharge", nurse, response)
        try:
            with pytest.raises(Forbidden):
                await checkpoints.override_hold(nurse, baby, saved.assessment_id, "concern-at-discharge", "No")
            hold = await checkpoints.override_hold(lead, baby, saved.assessment_id, "concern-at-discharge", "Agreed")
            async with checkpoints.sessions() as session:
                trail = (await session.exec(select(AuditEvent).where(AuditEvent.action == "override-hold"))).all()
                kept = (await session.exec(select(AuditEvent).where(AuditEvent.nhs_number == baby))).all()
                overrides = (await session.exec(select(HoldOverride))).all()
        finally:
            delete_written(fhir["neonatal"], saved.assessment_id)
    assert not hold.held
    assert [(e.user_id, e.outcome) for e in trail] == [("demo-nurse", "refused")]
    assert (
        "demo-safeguarding",
        "override-discharge-hold",
        f"assessment {saved.assessment_id}: concern-at-discharge",
    ) in {(e.user_id, e.action, e.detail) for e in kept}
    assert [(o.finding, o.reason, o.user_id, o.role) for o in overrides] == [
        ("concern-at-discharge", "Agreed", "demo-safeguarding", "safeguarding-lead")
    ]
