"""What NeoSafe writes back for a checklist is restricted: the QuestionnaireResponse, every Observation and
the Provenance carry the v3-Confidentiality R label, so a mother's disclosure on the baby's record is not
open to proxy access; an amendment keeps it, once."""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.fhir_systems import CONFIDENTIALITY_SYSTEM
from tests.answering import with_a_concern
from tests.families import CASE_V_BABY
from tests.web.test_api import completed_admission, search

RESTRICTED = (CONFIDENTIALITY_SYSTEM, "R")
LABELLED = ("QuestionnaireResponse", "Observation", "Provenance")


def labels(resource: dict) -> list[tuple[str, str]]:
    return [(s.get("system"), s.get("code")) for s in (resource.get("meta") or {}).get("security") or []]


def written(neonatal: httpx.Client, record_id: str) -> dict[str, list[dict]]:
    return {kind: search(neonatal, f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{record_id}") for kind in LABELLED}


def assert_restricted_once(found: dict[str, list[dict]]) -> None:
    assert found["QuestionnaireResponse"] and found["Observation"] and found["Provenance"]
    for kind, resources in found.items():
        for resource in resources:
            assert labels(resource).count(RESTRICTED) == 1, (kind, resource["id"], labels(resource))


def test_the_written_checklist_and_its_amendment_carry_the_restricted_label(api, fhir, saved):
    created = api.post(f"/api/patients/{CASE_V_BABY}/assessments", json=completed_admission(api, CASE_V_BABY))
    assert created.status_code == 201, created.text
    first = created.json()["id"]
    saved.append(first)  # the Case V family is shared: what this wrote is deleted afterwards
    assert created.json()["write_back"]["state"] == "sent"
    neonatal = fhir["neonatal"]

    assert_restricted_once(written(neonatal, first))

    latest = api.get(f"/api/patients/{CASE_V_BABY}/assessments/{first}/versions").raise_for_status().json()[-1]
    amendment = with_a_concern(latest, "Mother disclosed a new incident at home")
    amended = api.post(f"/api/patients/{CASE_V_BABY}/assessments/{first}/amendments", json=amendment)
    assert amended.status_code == 201, amended.text
    assert amended.json()["write_back"]["state"] == "sent"

    after = written(neonatal, first)
    assert [r["status"] for r in after["QuestionnaireResponse"]] == ["amended"]
    assert {o["status"] for o in after["Observation"]} >= {"amended"}  # updates, as well as new answers
    assert len(after["Provenance"]) == 2
    assert_restricted_once(after)
