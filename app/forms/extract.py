"""SDC observation-based extraction for FHIR R4: one Observation per answer of each coded item.

R4 Observation.value[x] has no decimal, date or Coding, so: decimal -> valueQuantity, date -> valueDateTime,
Coding -> valueCodeableConcept. False and 0 are answers like any other and are extracted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .extensions import CATEGORY, OBSERVATION_EXTRACT, extension_value
from .tree import walk

__all__ = ["OBSERVATION_ID_SYSTEM", "extract_observations", "observation_value"]

OBSERVATION_ID_SYSTEM = "https://neosafe.org.uk/fhir/Id/observation"
SOCIAL_HISTORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "social-history",
            "display": "Social History",
        }
    ]
}


def observation_value(answer: dict[str, Any]) -> dict[str, Any]:
    """The R4 Observation value[x] for a QuestionnaireResponse answer."""
    key, value = next((k, v) for k, v in answer.items() if k.startswith("value"))
    match key:
        case "valueDecimal":
            return {"valueQuantity": {"value": value}}
        case "valueDate":
            return {"valueDateTime": value}
        case "valueCoding":
            return {"valueCodeableConcept": {"coding": [value], "text": value.get("display", value.get("code"))}}
        case "valueBoolean" | "valueInteger" | "valueString" | "valueDateTime" | "valueTime" | "valueQuantity":
            return {key: value}
    raise ValueError(f"an answer of type {key} has no R4 Observation value")


def _extraction_rules(questionnaire: dict[str, Any]) -> dict[str, tuple[bool, dict[str, Any]]]:
    """linkId -> (extract?, category), with both inherited from the nearest ancestor that says."""
    rules: dict[str, tuple[bool, dict[str, Any]]] = {}

    def visit(element: dict[str, Any], inherited: tuple[bool, dict[str, Any]]) -> None:
        extract = extension_value(element, OBSERVATION_EXTRACT)
        category = extension_value(element, CATEGORY)
        here = (inherited[0] if extract is None else bool(extract), category or inherited[1])
        if "linkId" in element:
            rules[element["linkId"]] = here
        for child in element.get("item") or []:
            visit(child, here)

    visit(questionnaire, (False, SOCIAL_HISTORY))
    return rules


def _answers(questionnaire: dict[str, Any], response: dict[str, Any]) -> Iterator[tuple[str, dict, dict, int]]:
    rules = _extraction_rules(questionnaire)
    for node in walk(questionnaire, response):
        extract, category = rules.get(node.q["linkId"], (False, SOCIAL_HISTORY))
        if node.is_group or not extract or not node.q.get("code"):
            continue
        for index, answer in enumerate(node.r.get("answer") or []):
            yield node.path, node.q, {"answer": answer, "category": category}, index


def extract_observations(
    questionnaire: dict[str, Any], response: dict[str, Any], *, response_reference: str, identifier: str
) -> list[dict[str, Any]]:
    """Observations for a completed response; each identifier is `identifier/path/answer-index`, stable."""
    observations = []
    for path, item, found, index in _answers(questionnaire, response):
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "identifier": [{"system": OBSERVATION_ID_SYSTEM, "value": f"{identifier}/{path}/{index}"}],
            "status": "final",
            "category": [found["category"]],
            "code": {"coding": item["code"], "text": item.get("text", "")},
            "subject": response["subject"],
            "effectiveDateTime": response["authored"],
            "issued": response["authored"],
            "performer": [response["author"]],
            "derivedFrom": [{"reference": response_reference}],
            **observation_value(found["answer"]),
        }
        if response.get("encounter"):
            observation["encounter"] = response["encounter"]
        observations.append(observation)
    return observations
