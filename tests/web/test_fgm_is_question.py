"""Discharge D14 (issue 18): where the mother's record shows female genital mutilation and the baby is a girl, the
discharge checklist asks whether the FGM-IS flag has been added, over HTTP against the sandbox sources.

Asked (so required) for a girl whose mother's record holds an FGM flag; not asked for a boy with the same mother's
record, nor for a girl whose mother's record shows none. 'No' or 'Not known' needs who will add it, and raises a task.
"""

from __future__ import annotations

import uuid

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with, without_answer
from tests.factories import create, make_flag, make_patient, new_nhs_number
from tests.families import FGM_IS_BABY, NO_CONCERNS_BABY

ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
ADDED = "D14-fgm-is.flag-added"
PLAN = "D14-fgm-is.plan"
FGM = {"system": "https://fhir.nhs.uk/England/CodeSystem/PatientFlagCategory", "code": "FGM"}


def family(fhir: dict[str, httpx.Client], *, gender: str, mother_fgm: bool) -> str:
    """A new baby of `gender` on the unit's record, her mother (MTH) known to maternity, with the maternity record's
    FGM flag on the mother when `mother_fgm`; returns the baby's NHS number."""
    baby, mother = new_nhs_number(), new_nhs_number()
    mother_id = f"mat-test-{mother}"
    name = [{"given": ["Test"], "family": "Mother"}]
    related = {
        "resourceType": "RelatedPerson",
        "id": f"rp-{uuid.uuid4().hex[:12]}",
        "patient": {"reference": f"Patient/nn-test-{baby}"},
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]}],
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": mother}],
        "name": name,
        "birthDate": "1996-05-01",
    }
    create(fhir["neonatal"], make_patient(f"nn-test-{baby}", baby, gender=gender), related)
    flagged = [
        {**make_flag(mother_id, "x"), "code": {"text": "FGM identified at booking"}, "category": [{"coding": [FGM]}]}
    ]
    create(
        fhir["maternity"],
        make_patient(mother_id, mother, name=name, birthDate="1996-05-01", gender="female"),
        *(flagged if mother_fgm else []),
    )
    return baby


def coded(response: dict, link_id: str, code: str) -> dict:
    for item in items_with(response, link_id):
        item["answer"] = [{"valueCoding": {"system": ITEM, "code": code}}]
    return response


def missing(refused: httpx.Response) -> set[str]:
    """The linkIds a refused checklist is missing answers for."""
    assert refused.status_code == 422, refused.text
    return {i["expression"][0].split("linkId='")[1].rstrip("')") for i in refused.json()["issue"]}


def submit(api: httpx.Client, baby: str, response: dict) -> httpx.Response:
    return api.post(f"/api/patients/{baby}/assessments", json=response)


def test_a_girl_whose_mother_has_had_fgm_is_asked_and_a_plan_to_add_the_flag_becomes_a_task(live, fhir):
    baby = family(fhir, gender="female", mother_fgm=True)
    with live.client("nurse") as api:
        picture = api.get(f"/api/patients/{baby}/picture").json()
        unanswered = submit(api, baby, without_answer(completed(api, baby, "discharge"), ADDED))
        no_plan = submit(api, baby, without_answer(coded(completed(api, baby, "discharge"), ADDED, "no"), PLAN))
        stored = submit(api, baby, coded(completed(api, baby, "discharge"), ADDED, "not-known"))

    assert any(r["category"] == "fgm" and r["person_role"] == "mother" for r in picture["records"])
    assert missing(unanswered) == {ADDED}
    assert missing(no_plan) == {PLAN}
    assert stored.status_code == 201, stored.text
    tasks = fhir["neonatal"].get(f"Task?_tag={ASSESSMENT_TAG_SYSTEM}|{stored.json()['id']}").json()
    descriptions = [e["resource"].get("description", "") for e in tasks.get("entry") or []]
    assert any(d.startswith("Add the FGM-IS flag for the baby girl") for d in descriptions), descriptions


def test_yes_needs_no_plan(live, fhir):
    baby = family(fhir, gender="female", mother_fgm=True)
    with live.client("nurse") as api:
        stored = submit(api, baby, without_answer(coded(completed(api, baby, "discharge"), ADDED, "yes"), PLAN))

    assert stored.status_code == 201, stored.text


def test_a_boy_whose_mother_has_had_fgm_is_not_asked(live, fhir):
    baby = family(fhir, gender="male", mother_fgm=True)
    with live.client("nurse") as api:
        stored = submit(api, baby, without_answer(without_answer(completed(api, baby, "discharge"), ADDED), PLAN))

    assert stored.status_code == 201, stored.text


def test_a_girl_whose_mothers_record_shows_no_fgm_is_not_asked(live, fhir):
    baby = family(fhir, gender="female", mother_fgm=False)
    with live.client("nurse") as api:
        stored = submit(api, baby, without_answer(without_answer(completed(api, baby, "discharge"), ADDED), PLAN))

    assert stored.status_code == 201, stored.text


def test_the_sandbox_familys_baby_girl_is_asked_and_a_girl_without_fgm_in_the_family_is_not(live):
    # Refused either way (D12 left unanswered too), so nothing is written to the seeded families: the refusal names
    # every required answer missing, D14's only where it is asked.
    concern = "D12-concern-at-discharge.concern"
    with live.client("nurse") as api:
        fgm = submit(
            api, FGM_IS_BABY, without_answer(without_answer(completed(api, FGM_IS_BABY, "discharge"), ADDED), concern)
        )
        other = without_answer(without_answer(completed(api, NO_CONCERNS_BABY, "discharge"), ADDED), concern)
        plain = submit(api, NO_CONCERNS_BABY, other)

    assert missing(fgm) == {ADDED, concern}
    assert missing(plain) == {concern}
