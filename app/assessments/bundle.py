"""The FHIR transaction NeoSafe writes for one assessment: QuestionnaireResponse, Observations, Provenance.

Every entry is a conditional create on a stable NeoSafe identifier (Provenance, which has no identifier
in R4, on a tag), so sending the same transaction twice creates nothing the second time.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.forms import extract_observations

__all__ = ["ASSESSMENT_ID_SYSTEM", "ASSESSMENT_TAG_SYSTEM", "assessment_bundle"]

ASSESSMENT_ID_SYSTEM = "https://neosafe.org.uk/fhir/Id/assessment"
ASSESSMENT_TAG_SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/assessment"
_NAMESPACE = uuid.UUID("6f1c1d9e-5a43-4b7e-9a55-2f7f3c1f0e11")


def _full_url(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, key)}"


def _entry(resource: dict[str, Any], full_url: str, if_none_exist: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": if_none_exist},
    }


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
    response_url = _full_url(f"{assessment_id}/response")
    observations = extract_observations(
        questionnaire, response, response_reference=response_url, identifier=assessment_id
    )
    entries = [_entry(response, response_url, f"identifier={ASSESSMENT_ID_SYSTEM}|{assessment_id}")]
    for observation in observations:
        identifier = observation["identifier"][0]
        entries.append(
            _entry(
                observation,
                _full_url(identifier["value"]),
                f"identifier={identifier['system']}|{identifier['value']}",
            )
        )
    provenance = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": ASSESSMENT_TAG_SYSTEM, "code": assessment_id}]},
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
    entries.append(
        _entry(provenance, _full_url(f"{assessment_id}/provenance"), f"_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}")
    )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
