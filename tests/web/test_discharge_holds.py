"""Discharge held by the discharge checklist's own findings (issue 12 item 2), over HTTP on a live NeoSafe.

A checklist with a finding is stored (201) and written, but its outcome is *held: not ready for discharge* until the
finding is resolved by an amendment or overridden, with a reason, by a role fhir_mappings/discharge-holds.toml
names. Who may is never the request's to say; a finding in a family with no history asks for the co-signature.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.forms import walk
from app.handover import HANDOVER_ID_SYSTEM
from tests.answering import answer_everything, items_with
from tests.factories import create_baby
from tests.written import delete_written

ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
HELD, READY = "held: not ready for discharge", "ready for discharge"
VERIFICATION = "Verification Signature"


def coded(code: str) -> list[dict[str, Any]]:
    return [{"valueCoding": {"system": ITEM, "code": code}}]


def answered(response: dict[str, Any], link_id: str, answer: list[dict[str, Any]]) -> dict[str, Any]:
    """`response` with every `link_id` answered `answer` (it must be there to answer)."""
    found = items_with(response, link_id)
    assert found, f"the discharge checklist has no {link_id} to answer"
    for item in found:
        item["answer"] = answer
    return response


# Each finding, and the answer that raises it on a checklist answered as a careful clinician would.
RAISING = {
    "concern-at-discharge": [("D12-concern-at-discharge.concern", [{"valueBoolean": True}])],
    "injury-unresolved": [("D9-injuries-explained.explanation", coded("injury-not-resolved"))],
    "dash-outstanding": [("D4-da-risk-assessment.dash-status", coded("dash-not-yet-completed"))],
    "marac-idva-outstanding": [("D4-da-risk-assessment.idva-referral", coded("idva-not-yet-referred"))],
    "icon-not-given": [("D6-icon.carer.status", coded("icon-not-yet-given"))],
    "sole-carer-not-seen": [("D5-carers.person.alone", coded("yes")), ("D5-carers.person.seen", coded("no"))],
}


def discharge(api: httpx.Client, baby: str, *raising: str) -> dict[str, Any]:
    """A complete discharge checklist for the baby raising exactly the findings `raising`."""
    questionnaire = api.get("/api/checklists/discharge").raise_for_status().json()
    response = api.get(f"/api/patients/{baby}/checklists/discharge").raise_for_status().json()
    for finding in raising:
        for link_id, answer in RAISING[finding]:
            answered(response, link_id, answer)
    response = answer_everything(questionnaire, response)
    for node in walk(questionnaire, response):  # a carer the pre-fill leaves unanswered: seen, not alone
        if node.q["linkId"] == "D5-carers.person.seen" and "sole-carer-not-seen" not in raising:
            node.r["answer"] = coded("yes")
    return response


def submit(api: httpx.Client, baby: str, response: dict[str, Any], *, amends: str | None = None) -> str:
    path = f"/api/patients/{baby}/assessments" + (f"/{amends}/amendments" if amends else "")
    created = api.post(path, json=response, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def listed(api: httpx.Client, baby: str, assessment_id: str) -> dict[str, Any]:
    return next(a for a in api.get(f"/api/patients/{baby}/assessments").json() if a["id"] == assessment_id)


def override(
    api: httpx.Client, baby: str, assessment_id: str, finding: str, reason: str = "Plan agreed"
) -> httpx.Response:
    return api.post(
        f"/api/patients/{baby}/assessments/{assessment_id}/overrides", json={"finding": finding, "reason": reason}
    )


@pytest.fixture
def baby(fhir) -> str:
    """A baby on the unit with no safeguarding record at all: any co-signature comes from the checklist itself."""
    return create_baby(fhir["neonatal"])


@pytest.fixture
def written(fhir):
    ids: list[str] = []
    yield ids
    for assessment_id in ids:
        delete_written(fhir["neonatal"], assessment_id)


@pytest.mark.parametrize("finding", list(RAISING))
def test_each_finding_holds_the_discharge_but_the_checklist_is_stored(live, fhir, baby, written, finding):
    with live.client("nurse") as nurse:
        first = submit(nurse, baby, discharge(nurse, baby, finding))
        written.append(first)
        hold = listed(nurse, baby, first)["hold"]
    assert hold["outcome"] == HELD
    assert [(f["id"], f["open"]) for f in hold["findings"]] == [(finding, True)]
    assert hold["findings"][0]["words"]
    # stored and written to the baby's record as any checklist is
    assert fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}").json()["total"] == 1


def test_icon_not_given_to_someone_caring_alone_holds_it(live, baby, written):
    with live.client("nurse") as nurse:
        response = discharge(nurse, baby)
        answered(response, "D5-carers.person.alone", coded("yes"))
        answered(response, "D5-carers.person.alone-icon", coded("icon-not-yet-given"))
        first = submit(nurse, baby, response)
        written.append(first)
        hold = listed(nurse, baby, first)["hold"]
    assert hold["outcome"] == HELD
    assert [f["id"] for f in hold["findings"]] == ["icon-not-given"]


def test_a_checklist_with_no_finding_is_ready_and_asks_no_cosignature(live, baby, written):
    with live.client("nurse") as nurse:
        first = submit(nurse, baby, discharge(nurse, baby))
        written.append(first)
        row = listed(nurse, baby, first)
    assert row["hold"] == {"outcome": READY, "findings": [], "overrides": []}
    assert row["awaiting"] == []


def test_an_amendment_that_no_longer_raises_it_resolves_it(live, baby, written):
    with live.client("nurse") as nurse:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        resolved = discharge(nurse, baby)
        resolved["status"] = "amended"
        second = submit(nurse, baby, resolved, amends=first)
        assert listed(nurse, baby, second)["hold"]["outcome"] == READY
        assert listed(nurse, baby, first)["hold"]["outcome"] == HELD  # the earlier version, as it was


def test_the_safeguarding_lead_overrides_with_a_reason_audited_and_kept(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge", "icon-not-given"))
        written.append(first)
        answer = override(lead, baby, first, "concern-at-discharge", "  Social worker visits on day 1  ")
        assert answer.status_code == 201, answer.text
        assert answer.json()["outcome"] == HELD  # ICON is still open
        assert override(lead, baby, first, "icon-not-given", "Health visitor gives ICON at the first visit").is_success
        hold = listed(nurse, baby, first)["hold"]
    assert hold["outcome"] == READY
    assert [(f["id"], f["open"]) for f in hold["findings"]] == [
        ("concern-at-discharge", False),
        ("icon-not-given", False),
    ]
    first_override = hold["overrides"][0]
    assert first_override["finding"] == "concern-at-discharge"
    assert first_override["reason"] == "Social worker visits on day 1"
    assert first_override["by"] == "Chris Okafor (Safeguarding lead)"
    assert first_override["current"] is True and first_override["at"]


def test_a_cosignature_keeps_the_override_but_an_amendment_that_changes_the_answers_asks_again(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        assert override(lead, baby, first, "concern-at-discharge").status_code == 201
        signed = lead.post(f"/api/patients/{baby}/assessments/{first}/cosignature")
        assert signed.status_code == 201, signed.text
        assert listed(nurse, baby, signed.json()["id"])["hold"]["outcome"] == READY
        changed = discharge(nurse, baby, "concern-at-discharge")
        answered(changed, "D12-concern-at-discharge.details", [{"valueString": "A new concern since"}])
        changed["status"] = "amended"
        third = submit(nurse, baby, changed, amends=signed.json()["id"])
        hold = listed(nurse, baby, third)["hold"]
    assert hold["outcome"] == HELD
    assert [o["current"] for o in hold["overrides"]] == [False]  # still shown, no longer holding


@pytest.mark.parametrize("role", ["nurse", "discharge-coordinator", "community-nurse"])
def test_other_roles_are_refused(live, baby, written, role):
    with live.client("nurse") as nurse, live.client(role) as other:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        refused = override(other, baby, first, "concern-at-discharge")
        # whatever the body claims about who may
        claiming = other.post(
            f"/api/patients/{baby}/assessments/{first}/overrides",
            json={
                "finding": "concern-at-discharge",
                "reason": "x",
                "override_roles": [role],
                "role": "safeguarding-lead",
            },
        )
        assert listed(nurse, baby, first)["hold"]["outcome"] == HELD
    assert refused.status_code == 403 and claiming.status_code == 403


@pytest.mark.parametrize("reason", ["", "   ", "x" * 4001])
def test_an_empty_or_overlong_reason_is_refused(live, baby, written, reason):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        refused = override(lead, baby, first, "concern-at-discharge", reason)
        assert listed(nurse, baby, first)["hold"]["overrides"] == []
    assert refused.status_code == 422
    assert "reason" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body", [{"finding": "no-such-finding", "reason": "x"}, {"finding": "", "reason": "x"}, {"reason": "x"}, {}, []]
)
def test_an_unknown_finding_or_a_malformed_body_is_refused(live, baby, written, body):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        refused = lead.post(f"/api/patients/{baby}/assessments/{first}/overrides", json=body)
    assert refused.status_code == 422, refused.text


def test_a_finding_not_raised_or_already_overridden_is_a_conflict(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        assert override(lead, baby, first, "icon-not-given").status_code == 409
        assert override(lead, baby, first, "concern-at-discharge").status_code == 201
        assert override(lead, baby, first, "concern-at-discharge").status_code == 409
        assert len(listed(nurse, baby, first)["hold"]["overrides"]) == 1


def test_another_babys_checklist_is_not_found(live, fhir, baby, written):
    other = create_baby(fhir["neonatal"])
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        assert override(lead, other, first, "concern-at-discharge").status_code == 404
        assert override(lead, baby, "no-such-checklist", "concern-at-discharge").status_code == 404
        assert listed(nurse, baby, first)["hold"]["outcome"] == HELD


def test_only_the_latest_version_may_be_overridden(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        again = discharge(nurse, baby, "concern-at-discharge")
        again["status"] = "amended"
        second = submit(nurse, baby, again, amends=first)
        assert override(lead, baby, first, "concern-at-discharge").status_code == 409
        assert listed(nurse, baby, second)["hold"]["outcome"] == HELD


def test_an_admission_checklist_is_never_held(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        questionnaire = nurse.get("/api/checklists/admission").json()
        response = answer_everything(questionnaire, nurse.get(f"/api/patients/{baby}/checklists/admission").json())
        first = submit(nurse, baby, response)
        written.append(first)
        assert listed(nurse, baby, first)["hold"] is None
        assert override(lead, baby, first, "concern-at-discharge").status_code == 409


def test_a_concern_in_a_family_with_no_history_needs_the_named_nurses_cosignature(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        unsigned = discharge(nurse, baby, "concern-at-discharge")
        for item in items_with(unsigned, "signoff"):
            item["item"] = [i for i in item["item"] if not i["linkId"].startswith("signoff.named-nurse")]
        refused = nurse.post(f"/api/patients/{baby}/assessments", json=unsigned)
        assert refused.status_code == 422  # the named nurse's name is now required
        assert "signoff.named-nurse" in refused.text

        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
        assert listed(nurse, baby, first)["awaiting"] == [VERIFICATION]
        signed = lead.post(f"/api/patients/{baby}/assessments/{first}/cosignature")
        assert signed.status_code == 201, signed.text
        assert listed(nurse, baby, signed.json()["id"])["awaiting"] == []


def test_the_handover_shows_the_hold_and_the_override(live, baby, written):
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge", "dash-outstanding"))
        written.append(first)
        held = nurse.get(f"/api/patients/{baby}/handover").json()["hold"]
        assert held["outcome"] == HELD and {f["id"] for f in held["findings"]} == {
            "concern-at-discharge",
            "dash-outstanding",
        }
        assert override(lead, baby, first, "dash-outstanding", "DASH booked with the IDVA tomorrow").status_code == 201
    with live.browser("community-nurse") as community:
        page = community.get(f"/patients/{baby}/handover")
    assert page.status_code == 200
    assert "Held: not ready for discharge" in page.text
    assert "A safeguarding concern at discharge (D12)" in page.text
    assert "overridden by Chris Okafor (Safeguarding lead)" in page.text
    assert "DASH booked with the IDVA tomorrow" in page.text


def test_the_saved_checklist_page_offers_the_override_only_to_the_lead(live, baby, written):
    with live.client("nurse") as nurse:
        first = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(first)
    with live.browser("nurse") as browser:
        page = browser.get(f"/patients/{baby}/assessments/{first}")
        assert "Held: not ready for discharge" in page.text
        assert "A safeguarding concern at discharge (D12)" in page.text
        assert 'data-testid="override-concern-at-discharge"' not in page.text
    with live.browser("safeguarding-lead") as browser:
        page = browser.get(f"/patients/{baby}/assessments/{first}")
        assert 'data-testid="override-concern-at-discharge"' in page.text


def test_the_summary_written_to_the_record_says_the_discharge_is_held(live, fhir, baby, written):
    with live.client("nurse") as nurse:
        first = submit(nurse, baby, discharge(nurse, baby, "icon-not-given"))
        written.append(first)
    found = fhir["neonatal"].get(f"DocumentReference?identifier={HANDOVER_ID_SYSTEM}|{first}/handover").json()
    [attachment] = [
        c["attachment"]
        for c in found["entry"][0]["resource"]["content"]
        if c["attachment"]["contentType"] == "text/html"
    ]
    html = base64.b64decode(attachment["data"]).decode()
    assert "Held: not ready for discharge" in html
    assert "ICON advice on coping with crying not yet given to a carer" in html
    assert "Override as" not in html  # the record's copy offers no form


@pytest.mark.parametrize(
    "items",
    ["x", [1], [{"linkId": "D12-concern-at-discharge", "item": "y"}], [{"linkId": "D12-concern-at-discharge", "item": [
        {"linkId": "D12-concern-at-discharge.concern", "answer": "z"}]}]],
)  # fmt: skip
def test_answers_the_findings_cannot_be_read_from_are_refused_never_a_500(live, baby, items):
    with live.client("nurse") as nurse:
        response = discharge(nurse, baby, "concern-at-discharge")
        answer = nurse.post(f"/api/patients/{baby}/assessments", json={**response, "item": items})
        assert 400 <= answer.status_code < 500, answer.text
        assert nurse.get(f"/api/patients/{baby}/assessments").json() == []
