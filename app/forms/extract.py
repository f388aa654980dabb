"""SDC observation-based extraction for FHIR R4: one Observation per answer of each coded item.

R4 Observation.value[x] has no decimal, date or Coding, so: decimal -> valueQuantity, date -> valueDateTime,
Coding -> valueCodeableConcept. False and 0 are answers like any other and are extracted.

A coded group whose observationExtract is the code `component` becomes one Observation per group entry, its
coded questions' answers as components; with `member`, a parent Observation per entry whose hasMember points at
the Observations of its coded questions. observationExtract (boolean or code) and the category are inherited.

An answer about someone other than the baby names them as the Observation's focus; one about someone NeoSafe
cannot name safely is not extracted (focus.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.fhir_systems import OBSERVATION_CATEGORY_SYSTEM, OBSERVATION_ID_SYSTEM
from app.picture import RESTRICTED_LABEL

from .extensions import CATEGORY, OBSERVATION_EXTRACT, extension_value
from .focus import Focus
from .tree import Node, walk

__all__ = ["OBSERVATION_ID_SYSTEM", "extract_observations", "extraction_mode", "observation_value"]

GROUPING = ("component", "member")

SOCIAL_HISTORY = {
    "coding": [
        {
            "system": OBSERVATION_CATEGORY_SYSTEM,
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


def extraction_mode(element: dict[str, Any]) -> bool | str | None:
    """observationExtract on the item or on one of its codes: True/False, 'component', 'member', or None."""
    for holder in (element, *(element.get("code") or [])):
        value = extension_value(holder, OBSERVATION_EXTRACT)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return value if value in GROUPING else True  # 'derived' and 'independent' extract as usual
    return None


def _extraction_rules(questionnaire: dict[str, Any]) -> dict[str, tuple[bool | str, dict[str, Any]]]:
    """linkId -> (False, True, 'component' or 'member'; category), inherited from the nearest ancestor that says."""
    rules: dict[str, tuple[bool | str, dict[str, Any]]] = {}

    def visit(element: dict[str, Any], inherited: tuple[bool | str, dict[str, Any]]) -> None:
        mode = extraction_mode(element)
        category = extension_value(element, CATEGORY)
        here = (inherited[0] if mode is None else mode, category or inherited[1])
        if "linkId" in element:
            rules[element["linkId"]] = here
        for child in element.get("item") or []:
            visit(child, here)

    visit(questionnaire, (False, SOCIAL_HISTORY))
    return rules


def _base(item: dict[str, Any], category: dict[str, Any], response: dict[str, Any], derived_from: str, about: Focus):
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"security": [RESTRICTED_LABEL]},  # a safeguarding answer: restricted from proxy access
        "status": "final",
        "category": [category],
        "code": {"coding": item["code"], "text": item.get("text", "")},
        "subject": response["subject"],
        "effectiveDateTime": response["authored"],
        "issued": response["authored"],
        "performer": [response["author"]],
        "derivedFrom": [{"reference": derived_from}],
    }
    if about.reference:
        observation["focus"] = [about.reference]
    if response.get("encounter"):
        observation["encounter"] = response["encounter"]
    return observation


def _identifier(value: str) -> dict[str, str]:
    return {"system": OBSERVATION_ID_SYSTEM, "value": value}


def _collector(node: Node, groups: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The Observation of the nearest enclosing component/member group entry, if any."""
    parts = node.path.split("/")
    for depth in range(len(parts) - 1, 0, -1):
        found = groups.get("/".join(parts[:depth]))
        if found is not None:
            return found
    return None


def extract_observations(
    questionnaire: dict[str, Any],
    response: dict[str, Any],
    *,
    response_reference: str,
    identifier: str,
    full_url: Callable[[str], str] | None = None,
    focus: Callable[[Node], Focus] | None = None,
) -> list[dict[str, Any]]:
    """Observations for a completed, pruned response; each identifier is `identifier/path[/answer-index]`, stable.
    Each carries the restricted confidentiality label: every answer of a safeguarding checklist is restricted.

    `full_url` turns an Observation's identifier value into its fullUrl in the transaction, for hasMember;
    without it, hasMember refers to the member by identifier (a logical reference). `focus` (focus.focus_finder)
    says whom each answer is about; without it, every answer is about the baby.
    """
    rules = _extraction_rules(questionnaire)
    observations: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}  # path of a component/member group entry -> its Observation

    def keyed(observation: dict[str, Any], value: str) -> dict[str, Any]:
        return {"identifier": [_identifier(value)], **observation}

    for node in walk(questionnaire, response):
        mode, category = rules.get(node.q["linkId"], (False, SOCIAL_HISTORY))
        if not mode or not node.q.get("code"):
            continue
        about = focus(node) if focus else Focus()
        if not about.safe:
            continue
        collector = _collector(node, groups)
        if node.is_group:
            if mode in GROUPING:
                base = _base(node.q, category, response, response_reference, about)
                observation = keyed(base, f"{identifier}/{node.path}")
                observation["_grouping"] = mode
                groups[node.path] = observation
                observations.append(observation)
            continue
        for index, answer in enumerate(node.r.get("answer") or []):
            if collector is not None and collector["_grouping"] == "component":
                component = {"code": {"coding": node.q["code"], "text": node.q.get("text", "")}}
                collector.setdefault("component", []).append({**component, **observation_value(answer)})
                continue
            value = f"{identifier}/{node.path}/{index}"
            observations.append(
                keyed(
                    {**_base(node.q, category, response, response_reference, about), **observation_value(answer)}, value
                )
            )
            if collector is not None:
                member = {"reference": full_url(value)} if full_url else {"identifier": _identifier(value)}
                collector.setdefault("hasMember", []).append({**member, "display": node.q.get("text", "")})
    kept = []
    for observation in observations:
        mode = observation.pop("_grouping", None)
        if mode is None or observation.get("component") or observation.get("hasMember"):
            kept.append(observation)
    return kept
