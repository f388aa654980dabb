"""The FHIR transaction NeoSafe writes for one assessment: QuestionnaireResponse, Observations, Provenance.

Every entry is a conditional create on a stable NeoSafe identifier, so sending the same transaction twice
creates nothing the second time. Each resource also carries the same key as a tag, for the conditional
create of Provenance (no identifier in R4) and of any type a server cannot search by identifier.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.forms import extract_observations

__all__ = ["ASSESSMENT_ID_SYSTEM", "ASSESSMENT_TAG_SYSTEM", "WRITE_KEY_SYSTEM", "assessment_bundle", "fit_to_server"]

ASSESSMENT_ID_SYSTEM = "https://neosafe.org.uk/fhir/Id/assessment"
ASSESSMENT_TAG_SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/assessment"
WRITE_KEY_SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/write-key"
_NAMESPACE = uuid.UUID("6f1c1d9e-5a43-4b7e-9a55-2f7f3c1f0e11")


def _full_url(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, key)}"


def _entry(resource: dict[str, Any], key: str, assessment_id: str, *, by_identifier: str | None) -> dict[str, Any]:
    """A conditional create of `resource`, tagged with its write key and its assessment."""
    tags = [{"system": WRITE_KEY_SYSTEM, "code": key}, {"system": ASSESSMENT_TAG_SYSTEM, "code": assessment_id}]
    resource = {**resource, "meta": {"tag": tags}}
    condition = f"identifier={by_identifier}|{key}" if by_identifier else f"_tag={WRITE_KEY_SYSTEM}|{key}"
    return {
        "fullUrl": _full_url(key),
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": condition},
    }


def fit_to_server(bundle: dict[str, Any], capability: dict[str, Any]) -> dict[str, Any]:
    """The bundle with each conditional create on `_tag` where the server cannot search that type by identifier."""
    searchable = {
        r.get("type"): {p.get("name") for p in r.get("searchParam") or []}
        for rest in capability.get("rest") or []
        for r in rest.get("resource") or []
    }
    entries = []
    for entry in bundle["entry"]:
        condition = entry["request"].get("ifNoneExist", "")
        if condition.startswith("identifier=") and "identifier" not in searchable.get(entry["request"]["url"], ()):
            key = next(t["code"] for t in entry["resource"]["meta"]["tag"] if t["system"] == WRITE_KEY_SYSTEM)
            entry = {**entry, "request": {**entry["request"], "ifNoneExist": f"_tag={WRITE_KEY_SYSTEM}|{key}"}}
        entries.append(entry)
    return {**bundle, "entry": entries}


def assessment_bundle(
    *,
    questionnaire: dict[str, Any],
    response: dict[str, Any],
    assessment_id: str,
    sources: list[dict[str, Any]],
) -> dict[str, Any]:
    """`response` is completed and pruned, with subject, author and authored set; `sources` as consulted."""
    response = {
        **response,
        "identifier": {"system": ASSESSMENT_ID_SYSTEM, "value": assessment_id},
    }
    entries = [_entry(response, assessment_id, assessment_id, by_identifier=ASSESSMENT_ID_SYSTEM)]
    observations = extract_observations(
        questionnaire, response, response_reference=entries[0]["fullUrl"], identifier=assessment_id
    )
    for observation in observations:
        identifier = observation["identifier"][0]
        entries.append(_entry(observation, identifier["value"], assessment_id, by_identifier=identifier["system"]))
    provenance = {
        "resourceType": "Provenance",
        "target": [{"reference": e["fullUrl"]} for e in entries],
        "recorded": response["authored"],
        "activity": {"text": f"NeoSafe safeguarding checklist ({questionnaire.get('title', questionnaire['url'])})"},
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                            "display": "Author",
                        }
                    ]
                },
                "who": response["author"],
            }
        ],
        "entity": [
            {"role": "source", "what": {"display": f"{s['name']}: {s['status']} ({s['detail']})"}} for s in sources
        ],
    }
    entries.append(_entry(provenance, f"{assessment_id}/provenance", assessment_id, by_identifier=None))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
