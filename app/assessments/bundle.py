"""The FHIR transaction NeoSafe writes for one version of an assessment: QuestionnaireResponse,
Observations (SDC observation-based extraction), the Tasks its answers raise, at discharge the handover
summary and a Communication per recipient, and a Provenance.

A checklist keeps one identifier (its record id, the id of its first version) through all amendments.
The first version is written as conditional creates on stable keys, so sending it twice creates nothing
the second time. An amendment is written as conditional updates of what changed: the QuestionnaireResponse
(status amended), each changed answer's Observation (status amended), a new answer's Observation (created),
and an answer taken away (its Observation withdrawn: entered-in-error); unchanged answers are left alone.
Tasks follow the same rule (a task no longer raised is cancelled), so a task someone has already completed
elsewhere is not reopened by an amendment that did not change it.

Every resource carries its key as a tag too, for Provenance (no identifier in R4) and for any type a
server cannot search by identifier (`fit_to_server`).

Every resource also carries the restricted confidentiality label (v3-Confidentiality R) in meta.security,
merged with any label it already has: a safeguarding checklist is safeguarding information whichever answer
discloses what (domestic abuse, police, social care), so none of it is left open to proxy access on the
baby's record. The Provenance names each source and what it found there, so it is labelled too. Updates
(amendments, co-signatures, withdrawals) are built the same way, so they keep the label.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from app.fhir_systems import (
    ASSESSMENT_ID_SYSTEM,
    ASSESSMENT_TAG_SYSTEM,
    DATA_OPERATION_SYSTEM,
    PROVENANCE_PARTICIPANT_TYPE_SYSTEM,
    WRITE_KEY_SYSTEM,
)
from app.forms import Focus, Node, TaskRule, extract_observations, raised_tasks, task_resource
from app.picture import RESTRICTED_LABEL

__all__ = [
    "ASSESSMENT_ID_SYSTEM",
    "ASSESSMENT_TAG_SYSTEM",
    "WRITE_KEY_SYSTEM",
    "WRITTEN_TYPES",
    "assessment_bundle",
    "conditional_create",
    "creates_to_check",
    "fit_to_server",
    "without_existing",
]


_NAMESPACE = uuid.UUID("6f1c1d9e-5a43-4b7e-9a55-2f7f3c1f0e11")


def full_url(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, key)}"


def restricted(meta: dict[str, Any]) -> dict[str, Any]:
    """The meta with the restricted label among its security labels, once; the labels it had are kept."""
    security = list(meta.get("security") or [])
    labelled = {(s.get("system"), s.get("code")) for s in security}
    if (RESTRICTED_LABEL["system"], RESTRICTED_LABEL["code"]) not in labelled:
        security.append(RESTRICTED_LABEL)
    return {**meta, "security": security}


def _tagged(resource: dict[str, Any], key: str, record_id: str | None) -> dict[str, Any]:
    """The resource with NeoSafe's tags as its only tags and the restricted label; other meta is kept. Only what a
    checklist wrote carries the checklist's tag (`record_id`)."""
    tags = [{"system": WRITE_KEY_SYSTEM, "code": key}]
    if record_id is not None:
        tags.append({"system": ASSESSMENT_TAG_SYSTEM, "code": record_id})
    return {**resource, "meta": {**restricted(resource.get("meta") or {}), "tag": tags}}


def _condition(key: str, by_identifier: str | None) -> str:
    return f"identifier={by_identifier}|{key}" if by_identifier else f"_tag={WRITE_KEY_SYSTEM}|{key}"


def conditional_create(
    resource: dict[str, Any], key: str, record_id: str | None, *, by_identifier: str | None
) -> dict[str, Any]:
    """A conditional create: nothing happens if the server already holds this key."""
    return {
        "fullUrl": full_url(key),
        "resource": _tagged(resource, key, record_id),
        "request": {"method": "POST", "url": resource["resourceType"], "ifNoneExist": _condition(key, by_identifier)},
    }


def _update(resource: dict[str, Any], key: str, record_id: str, *, by_identifier: str) -> dict[str, Any]:
    """A conditional update: replaces the resource the server holds under this key."""
    return {
        "fullUrl": full_url(key),
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


def _request_of(task: dict[str, Any]) -> tuple:
    return tuple(repr(task.get(k)) for k in ("description", "owner", "priority", "restriction"))


def _delivery_of(communication: dict[str, Any]) -> tuple:
    return tuple(repr(communication.get(k)) for k in ("status", "sent", "received", "recipient", "note"))


# Per type written once per answer: what makes a later version differ, the status a changed one is written
# with (None: its own), and the status that withdraws one whose answer was taken away (never deleted).
VERSIONED = {
    "Observation": (_answer_of, "amended", "entered-in-error"),
    "Task": (_request_of, "requested", "cancelled"),
    "Communication": (_delivery_of, None, "entered-in-error"),
}


# Every resource type NeoSafe writes: what a check of the write-back server must read back.
WRITTEN_TYPES = ("QuestionnaireResponse", *VERSIONED, "DocumentReference", "Provenance")


def _keyed_entries(
    resources: list[dict[str, Any]], previous: list[dict[str, Any]] | None, record_id: str
) -> list[dict[str, Any]]:
    """Creates for a first version; for a later one, creates, updates of what changed and withdrawals."""
    if previous is None:
        return [
            conditional_create(r, r["identifier"][0]["value"], record_id, by_identifier=r["identifier"][0]["system"])
            for r in resources
        ]
    before = {r["identifier"][0]["value"]: r for r in previous}
    entries = []
    for resource in resources:
        identifier = resource["identifier"][0]
        same, changed, _ = VERSIONED[resource["resourceType"]]
        old = before.pop(identifier["value"], None)
        if old is None:
            entries.append(
                conditional_create(resource, identifier["value"], record_id, by_identifier=identifier["system"])
            )
        elif same(old) != same(resource):
            updated = {**resource, "status": changed or resource["status"]}
            entries.append(_update(updated, identifier["value"], record_id, by_identifier=identifier["system"]))
    for key, old in before.items():
        kept = {k: v for k, v in old.get("meta", {}).items() if k in ("security",)}  # not the server's versionId
        withdrawn = {**old, "meta": kept, "status": VERSIONED[old["resourceType"]][2]}
        entries.append(_update(withdrawn, key, record_id, by_identifier=old["identifier"][0]["system"]))
    return entries


def _agent(role: str, who: dict[str, Any]) -> dict[str, Any]:
    coding = {
        "system": PROVENANCE_PARTICIPANT_TYPE_SYSTEM,
        "code": role,
        "display": role.capitalize(),
    }
    return {"type": {"coding": [coding]}, "who": who}


def previous_of(bundles: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    """The resources of a type as the server holds them after the given versions' bundles, latest state per
    key, without those withdrawn."""
    latest: dict[str, dict[str, Any]] = {}
    for bundle in bundles:
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == resource_type:
                latest[entry["resource"]["identifier"][0]["value"]] = entry["resource"]
    withdrawn = VERSIONED[resource_type][2]
    return [r for r in latest.values() if r.get("status") != withdrawn]


def assessment_bundle(
    *,
    questionnaire: dict[str, Any],
    response: dict[str, Any],
    assessment_id: str,
    sources: list[dict[str, Any]],
    record_id: str | None = None,
    earlier: list[dict[str, Any]] | None = None,
    verifier: dict[str, Any] | None = None,
    attached: list[dict[str, Any]] = (),
    task_rules: list[TaskRule] = (),
    focus: Callable[[Node], Focus] | None = None,
) -> dict[str, Any]:
    """The transaction for one version of a checklist.

    `response` is completed (or amended) and pruned, with subject, author and authored set; `sources` as
    consulted. For an amendment, `record_id` is the first version's id and `earlier` the bundles of every
    earlier version, oldest first. For a co-signature, `verifier` is the co-signer's signature: the
    Provenance then names them as verifier and carries their signature, not the author's. `task_rules` (those
    of this checkpoint) raise Tasks from the answers, versioned like the Observations. `attached` resources
    (the handover summary and its Communications at discharge) go with it, each keyed by its identifier:
    a type in VERSIONED versioned like the Observations, any other replaced by each later version. `focus`
    names whom each answer is about (app.forms.focus_finder): a parent's answers are not the baby's findings.
    """
    record_id = record_id or assessment_id
    response = {**response, "identifier": {"system": ASSESSMENT_ID_SYSTEM, "value": record_id}}
    if earlier:
        entries = [_update(response, record_id, record_id, by_identifier=ASSESSMENT_ID_SYSTEM)]
    else:
        entries = [conditional_create(response, record_id, record_id, by_identifier=ASSESSMENT_ID_SYSTEM)]
    observations = extract_observations(
        questionnaire, response, response_reference=entries[0]["fullUrl"], identifier=record_id, focus=focus
    )
    tasks = [
        task_resource(t, response, response_reference=entries[0]["fullUrl"], identifier=record_id)
        for t in raised_tasks(questionnaire, response, list(task_rules))
    ]
    keyed: dict[str, list[dict[str, Any]]] = {"Observation": observations, "Task": tasks}
    for resource in attached:
        if resource["resourceType"] in VERSIONED:
            keyed.setdefault(resource["resourceType"], []).append(resource)
            continue
        identifier = resource["identifier"][0]
        write = _update if earlier else conditional_create
        entries.append(write(resource, identifier["value"], record_id, by_identifier=identifier["system"]))
    for resource_type in VERSIONED:  # every type, so one no longer raised at all is withdrawn too
        written = keyed.get(resource_type, [])
        entries += _keyed_entries(written, previous_of(earlier, resource_type) if earlier else None, record_id)
    provenance = {
        "resourceType": "Provenance",
        "target": [{"reference": e["fullUrl"]} for e in entries],
        "recorded": response["authored"],
        "activity": {
            "coding": [
                {
                    "system": DATA_OPERATION_SYSTEM,
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
    entries.append(
        conditional_create(provenance, f"{record_id}/provenance/{assessment_id}", record_id, by_identifier=None)
    )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
