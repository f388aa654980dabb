"""The FHIR transaction NeoSafe writes for one version of an assessment: QuestionnaireResponse,
Observations (SDC observation-based extraction) and a Provenance.

A checklist keeps one identifier (its record id, the id of its first version) through all amendments.
The first version is written as conditional creates on stable keys, so sending it twice creates nothing
the second time. An amendment is written as conditional updates of what changed: the QuestionnaireResponse
(status amended), each changed answer's Observation (status amended), a new answer's Observation (created),
and an answer taken away (its Observation withdrawn: entered-in-error); unchanged answers are left alone.

Every resource carries its key as a tag too, for Provenance (no identifier in R4) and for any type a
server cannot search by identifier (`fit_to_server`).
"""

from __future__ import annotations

import uuid
from typing import Any

from app.forms import extract_observations

__all__ = [
    "ASSESSMENT_ID_SYSTEM",
    "ASSESSMENT_TAG_SYSTEM",
    "WRITE_KEY_SYSTEM",
    "assessment_bundle",
    "creates_to_check",
    "fit_to_server",
    "without_existing",
]

ASSESSMENT_ID_SYSTEM = "https://neosafe.org.uk/fhir/Id/assessment"
ASSESSMENT_TAG_SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/assessment"
WRITE_KEY_SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/write-key"
_NAMESPACE = uuid.UUID("6f1c1d9e-5a43-4b7e-9a55-2f7f3c1f0e11")


def _full_url(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, key)}"


def _tagged(resource: dict[str, Any], key: str, record_id: str) -> dict[str, Any]:
    tags = [{"system": WRITE_KEY_SYSTEM, "code": key}, {"system": ASSESSMENT_TAG_SYSTEM, "code": record_id}]
    return {**resource, "meta": {"tag": tags}}


def _condition(key: str, by_identifier: str | None) -> str:
    return f"identifier={by_identifier}|{key}" if by_identifier else f"_tag={WRITE_KEY_SYSTEM}|{key}"


def _create(resource: dict[str, Any], key: str, record_id: str, *, by_identifier: str | None) -> dict[str, Any]:
    """A conditional create: nothing happens if the server already holds this key."""
    return {
        "fullUrl": _full_url(key),
        "resource": _tagged(resource, key, record_id),
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": _condition(key, by_identifier)},
    }


def _update(resource: dict[str, Any], key: str, record_id: str, *, by_identifier: str) -> dict[str, Any]:
    """A conditional update: replaces the resource the server holds under this key."""
    return {
        "fullUrl": _full_url(key),
        "resource": _tagged(resource, key, record_id),
        "request": {"method": "PUT", "url": f"{resource['resourceType']}?{_condition(key, by_identifier)}"},
    }


def fit_to_server(bundle: dict[str, Any], capability: dict[str, Any]) -> dict[str, Any]:
    """The bundle with each condition on `_tag` where the server cannot search that type by identifier."""
    searchable = {
        r.get("type"): {p.get("name") for p in r.get("searchParam") or []}
        for rest in capability.get("rest") or []
        for r in rest.get("resource") or []
    }
    entries = []
    for entry in bundle["entry"]:
        request = entry["request"]
        resource_type = entry["resource"]["resourceType"]
        key = next(t["code"] for t in entry["resource"]["meta"]["tag"] if t["system"] == WRITE_KEY_SYSTEM)
        if "identifier" not in searchable.get(resource_type, ()):
            by_tag = f"_tag={WRITE_KEY_SYSTEM}|{key}"
            if request.get("ifNoneExist", "").startswith("identifier="):
                request = {**request, "ifNoneExist": by_tag}
            elif request["method"] == "PUT" and "?identifier=" in request["url"]:
                request = {**request, "url": f"{resource_type}?{by_tag}"}
        entries.append({**entry, "request": request})
    return {**bundle, "entry": entries}


def creates_to_check(bundle: dict[str, Any], capability: dict[str, Any]) -> list[dict[str, Any]]:
    """The conditional creates a server cannot do itself (its CapabilityStatement does not say it can):
    NeoSafe searches for each first and leaves out what is already there."""
    conditional = {
        r.get("type"): r.get("conditionalCreate") is True
        for rest in capability.get("rest") or []
        for r in rest.get("resource") or []
    }
    return [
        e
        for e in bundle["entry"]
        if e["request"].get("ifNoneExist") and not conditional.get(e["resource"]["resourceType"], False)
    ]


def without_existing(bundle: dict[str, Any], checked: list[dict[str, Any]], found: dict[str, str]) -> dict[str, Any]:
    """The bundle without the creates already on the server (`found`: fullUrl -> Type/id), references to them
    pointed at what is there, and no ifNoneExist left on the creates that were checked."""
    checked_urls = {e["fullUrl"] for e in checked}

    def point(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) >= {"reference"} and value["reference"] in found:
                return {**value, "reference": found[value["reference"]]}
            return {k: point(v) for k, v in value.items()}
        if isinstance(value, list):
            return [point(v) for v in value]
        return value

    entries = []
    for entry in bundle["entry"]:
        if entry["fullUrl"] in found:
            continue
        request = entry["request"]
        if entry["fullUrl"] in checked_urls:
            request = {k: v for k, v in request.items() if k != "ifNoneExist"}
        entries.append({**entry, "resource": point(entry["resource"]), "request": request})
    return {**bundle, "entry": entries}


def _answer_of(observation: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in observation.items() if k.startswith("value")))


def _observation_entries(
    observations: list[dict[str, Any]], previous: list[dict[str, Any]] | None, record_id: str
) -> list[dict[str, Any]]:
    if previous is None:
        return [
            _create(o, o["identifier"][0]["value"], record_id, by_identifier=o["identifier"][0]["system"])
            for o in observations
        ]
    before = {o["identifier"][0]["value"]: o for o in previous}
    entries = []
    for observation in observations:
        identifier = observation["identifier"][0]
        old = before.pop(identifier["value"], None)
        if old is None:
            entries.append(_create(observation, identifier["value"], record_id, by_identifier=identifier["system"]))
        elif _answer_of(old) != _answer_of(observation):
            amended = {**observation, "status": "amended"}
            entries.append(_update(amended, identifier["value"], record_id, by_identifier=identifier["system"]))
    for key, old in before.items():  # an answer taken away: withdrawn, never deleted
        withdrawn = {**{k: v for k, v in old.items() if k != "meta"}, "status": "entered-in-error"}
        entries.append(_update(withdrawn, key, record_id, by_identifier=old["identifier"][0]["system"]))
    return entries


def _agent(role: str, who: dict[str, Any]) -> dict[str, Any]:
    coding = {
        "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
        "code": role,
        "display": role.capitalize(),
    }
    return {"type": {"coding": [coding]}, "who": who}


def previous_observations(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Observations as the server holds them after the given versions' bundles, latest state per key."""
    latest: dict[str, dict[str, Any]] = {}
    for bundle in bundles:
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Observation":
                latest[entry["resource"]["identifier"][0]["value"]] = entry["resource"]
    return [o for o in latest.values() if o.get("status") != "entered-in-error"]


def assessment_bundle(
    *,
    questionnaire: dict[str, Any],
    response: dict[str, Any],
    assessment_id: str,
    sources: list[dict[str, Any]],
    record_id: str | None = None,
    earlier: list[dict[str, Any]] | None = None,
    verifier: dict[str, Any] | None = None,
    documents: list[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The transaction for one version of a checklist.

    `response` is completed (or amended) and pruned, with subject, author and authored set; `sources` as
    consulted. For an amendment, `record_id` is the first version's id and `earlier` the bundles of every
    earlier version, oldest first. For a co-signature, `verifier` is the co-signer's signature: the
    Provenance then names them as verifier and carries their signature, not the author's. `documents`
    (e.g. the handover summary) go with it, each keyed by its identifier: created with the first version,
    replaced by each later one.
    """
    record_id = record_id or assessment_id
    response = {**response, "identifier": {"system": ASSESSMENT_ID_SYSTEM, "value": record_id}}
    if earlier:
        entries = [_update(response, record_id, record_id, by_identifier=ASSESSMENT_ID_SYSTEM)]
    else:
        entries = [_create(response, record_id, record_id, by_identifier=ASSESSMENT_ID_SYSTEM)]
    observations = extract_observations(
        questionnaire, response, response_reference=entries[0]["fullUrl"], identifier=record_id
    )
    entries += _observation_entries(observations, previous_observations(earlier) if earlier else None, record_id)
    for document in documents:
        identifier = document["identifier"][0]
        write = _update if earlier else _create
        entries.append(write(document, identifier["value"], record_id, by_identifier=identifier["system"]))
    provenance = {
        "resourceType": "Provenance",
        "target": [{"reference": e["fullUrl"]} for e in entries],
        "recorded": response["authored"],
        "activity": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": "UPDATE" if earlier else "CREATE",
                }
            ],
            "text": f"NeoSafe safeguarding checklist ({questionnaire.get('title', questionnaire['url'])})"
            + (" amended" if earlier else ""),
        },
        "agent": [_agent("verifier" if verifier else "author", (verifier or {}).get("who") or response["author"])],
        "entity": [
            {"role": "source", "what": {"display": f"{s['name']}: {s['status']} ({s['detail']})"}} for s in sources
        ],
    }
    signature = verifier or next(
        (e.get("valueSignature") for e in response.get("extension") or [] if e.get("url", "").endswith("-signature")),
        None,
    )
    if signature:
        provenance["signature"] = [signature]
    entries.append(_create(provenance, f"{record_id}/provenance/{assessment_id}", record_id, by_identifier=None))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
