"""The same submission sent twice is stored once: a retry after a lost reply finds what the first stored.

A nurse whose "saved" page never arrived presses Save again; an API client retries after a timeout. Each
sends the key of its first attempt (a hidden field on the page, Idempotency-Key in the API).
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with, with_a_concern
from tests.factories import create_baby

CONCERN = "A10-concern-now.concern"


def stored(api: httpx.Client, baby: str) -> list[str]:
    return [a["id"] for a in api.get(f"/api/patients/{baby}/assessments").raise_for_status().json()]


def on_server(fhir: dict, assessment_id: str) -> int:
    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}")
    return found.raise_for_status().json()["total"]


def test_the_same_submission_sent_again_returns_the_first_and_stores_nothing_twice(api, fhir):
    baby = create_baby(fhir["neonatal"])
    response, key = completed(api, baby), {"Idempotency-Key": str(uuid.uuid4())}

    first = api.post(f"/api/patients/{baby}/assessments", json=response, headers=key)
    again = api.post(f"/api/patients/{baby}/assessments", json=response, headers=key)

    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["write_back"]["state"] == "sent"
    assert stored(api, baby) == [first.json()["id"]]
    assert on_server(fhir, first.json()["id"]) == 1


def test_without_a_key_each_submission_is_new(api, fhir):
    baby = create_baby(fhir["neonatal"])
    response = completed(api, baby)

    ids = {api.post(f"/api/patients/{baby}/assessments", json=response).json()["id"] for _ in range(2)}

    assert len(ids) == 2 and sorted(stored(api, baby)) == sorted(ids)


def test_a_key_sent_again_with_other_answers_is_refused_not_dropped(api, fhir):
    baby = create_baby(fhir["neonatal"])
    response, key = completed(api, baby), {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post(f"/api/patients/{baby}/assessments", json=response, headers=key).json()["id"]
    for item in items_with(response, CONCERN):
        item["answer"] = [{"valueBoolean": True}]

    changed = api.post(f"/api/patients/{baby}/assessments", json=response, headers=key)

    assert changed.status_code == 409
    assert first in changed.json()["detail"] and "amend" in changed.json()["detail"]
    assert stored(api, baby) == [first]


def test_a_key_belongs_to_one_baby_and_one_clinician(live, api, fhir):
    baby, other = create_baby(fhir["neonatal"]), create_baby(fhir["neonatal"])
    response, key = completed(api, baby), {"Idempotency-Key": str(uuid.uuid4())}
    api.post(f"/api/patients/{baby}/assessments", json=response, headers=key).raise_for_status()

    other_baby = api.post(f"/api/patients/{other}/assessments", json=completed(api, other), headers=key)
    with live.client("safeguarding-lead") as lead:
        other_clinician = lead.post(f"/api/patients/{baby}/assessments", json=response, headers=key)

    assert (other_baby.status_code, other_clinician.status_code) == (409, 409)
    assert stored(api, other) == []
    assert len(stored(api, baby)) == 1


@pytest.mark.parametrize("key", ["has space", "x" * 256, "é".encode()])
def test_a_malformed_key_is_a_clear_error(api, fhir, key):
    baby = create_baby(fhir["neonatal"])

    refused = api.post(f"/api/patients/{baby}/assessments", json=completed(api, baby), headers={"Idempotency-Key": key})

    assert refused.status_code == 400
    assert "Idempotency-Key must be 1 to 255 visible ASCII characters" in refused.json()["detail"]
    assert stored(api, baby) == []


async def test_the_same_submission_arriving_twice_at_once_is_stored_once(live, api, fhir):
    baby = create_baby(fhir["neonatal"])
    response, key = completed(api, baby), {"Idempotency-Key": str(uuid.uuid4())}
    async with httpx.AsyncClient(base_url=live.url, headers=api.headers, timeout=60) as client:
        replies = await asyncio.gather(
            *(client.post(f"/api/patients/{baby}/assessments", json=response, headers=key) for _ in range(4))
        )

    assert {r.status_code for r in replies} == {201}, [r.text for r in replies if r.status_code != 201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert len(stored(api, baby)) == 1


def test_an_amendment_sent_again_is_the_same_amendment_not_a_refusal(api, fhir):
    baby = create_baby(fhir["neonatal"])
    first = api.post(f"/api/patients/{baby}/assessments", json=completed(api, baby)).json()["id"]
    stored = api.get(f"/api/patients/{baby}/assessments/{first}/versions").json()[-1]
    response = with_a_concern(stored, "Bruise on the left cheek, seen at 10:00")  # Yes asks what the concern is
    key = {"Idempotency-Key": str(uuid.uuid4())}

    amended = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response, headers=key)
    again = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response, headers=key)

    assert amended.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == amended.json()["id"]
    versions = api.get(f"/api/patients/{baby}/assessments/{amended.json()['id']}/versions").json()
    assert [v["status"] for v in versions] == ["completed", "amended"]
