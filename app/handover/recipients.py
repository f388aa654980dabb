"""Who the handover summary went to: a FHIR Communication per recipient entry of the discharge checklist.

The questions it reads are named in fhir_mappings/handover.toml ([recipients]), checked at start-up. A
Communication is completed once sent; its `received` is the date the recipient confirmed receipt, so the
record answers "has the health visitor got it?" without opening the checklist.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from app.config import ConfigError, read_toml
from app.forms import Checklists, answer_text, definitions, walk
from app.picture import RESTRICTED_LABEL

from .document_reference import HANDOVER_ID_SYSTEM, TITLE
from .routes import Routes, route_words

__all__ = ["Recipients", "handover_communications", "load_recipients", "route_again"]


@dataclass(frozen=True)
class Recipients:
    """linkIds in the discharge checklist: the repeating recipient group, and its questions; `address`, where the
    baby goes home to (the teams are found from it)."""

    group: str
    type: str
    name: str
    sent: str
    received: str
    received_by: str
    received_date: str
    address: str
    route: str | None = None  # "How NeoSafe sends it" (read-only): worked out again from `address` when saved


def load_recipients(path: Path, checklists: Checklists) -> Recipients:
    table = read_toml(path).get("recipients") or {}
    known = {d["linkId"] for d in definitions(checklists.for_checkpoint("discharge"))}
    for f in fields(Recipients):
        optional = f.default is None and f.name not in table
        if not optional and table.get(f.name) not in known:
            raise ConfigError(f"{path.name}, [recipients]: {f.name} must name a discharge checklist item")
    return Recipients(**{f.name: table[f.name] for f in fields(Recipients) if f.name in table})


def route_again(
    questionnaire: dict[str, Any], response: dict[str, Any], recipients: Recipients, routes: Routes, patient: dict
) -> None:
    """Each recipient entry's *How NeoSafe sends it* worked out again (in place) from the discharge checklist's
    own address (D5) and the baby's GP practice: the route delivery will use, so what the nurse sees after saving,
    and what is stored and handed over, is true whatever D5 now says. A name NeoSafe filled in (a team of that
    kind in delivery.toml) follows the route: the new team's, or none (for the nurse to name) if no team covers
    the address; a name the nurse wrote is kept."""
    if recipients.route is None:
        return
    nodes = list(walk(questionnaire, response))
    address = next(
        (answer_text((n.r.get("answer") or [{}])[0]) for n in nodes if n.q["linkId"] == recipients.address), None
    )
    for node in nodes:
        if node.q["linkId"] != recipients.group:
            continue
        items = node.r.setdefault("item", [])
        by_id = {i["linkId"]: i for i in items}
        kind = ((by_id.get(recipients.type, {}).get("answer") or [{}])[0].get("valueCoding") or {}).get("code")
        route = routes.route_for(kind, patient, address=address) if kind else None
        words = [{"valueString": route_words(route)}]
        if recipients.route in by_id:
            by_id[recipients.route]["answer"] = words
        else:
            at = next((n + 1 for n, i in enumerate(items) if i["linkId"] == recipients.name), len(items))
            items.insert(at, {"linkId": recipients.route, "answer": words})
        named = by_id.get(recipients.name)
        filled_in = routes.team_names(kind) if kind else set()
        if named is not None and answer_text((named.get("answer") or [{}])[0]) in filled_in:
            if route is not None:
                named["answer"] = [{"valueString": route.name}]
            else:
                named.pop("answer", None)


def _communication(
    answered: dict[str, dict[str, Any]], recipients: Recipients, response: dict[str, Any], *, key: str, summary: dict
) -> dict[str, Any]:
    """`answered`: the recipient entry's first answer to each of its questions, by linkId."""

    def first(link_id: str) -> dict[str, Any]:
        return answered.get(link_id, {})

    name, kind = answer_text(first(recipients.name)), answer_text(first(recipients.type))
    sent = first(recipients.sent).get("valueDate")
    communication: dict[str, Any] = {
        "resourceType": "Communication",
        "meta": {"security": [RESTRICTED_LABEL]},
        "identifier": [{"system": HANDOVER_ID_SYSTEM, "value": key}],
        "status": "completed" if sent else "preparation",
        "category": [{"text": "Safeguarding handover to the community team"}],
        "subject": response["subject"],
        "recipient": [{"display": f"{name} ({kind})" if name and kind else name or kind or "recipient not named"}],
        "sender": response["author"],
        "payload": [{"contentReference": summary}],
    }
    if response.get("encounter"):
        communication["encounter"] = response["encounter"]
    if sent:
        communication["sent"] = sent
    if first(recipients.received).get("valueBoolean") and first(recipients.received_date).get("valueDate"):
        communication["received"] = first(recipients.received_date)["valueDate"]
        by = answer_text(first(recipients.received_by))
        communication["note"] = [{"text": f"Receipt confirmed by {by or 'not named'}"}]
    return communication


def handover_communications(
    questionnaire: dict[str, Any], response: dict[str, Any], recipients: Recipients, *, record_id: str
) -> list[dict[str, Any]]:
    """One Communication per recipient entry of the completed discharge checklist `response`."""
    summary = {
        "type": "DocumentReference",
        "identifier": {"system": HANDOVER_ID_SYSTEM, "value": f"{record_id}/handover"},
        "display": TITLE,
    }
    return [
        _communication(
            {i["linkId"]: (i.get("answer") or [{}])[0] for i in node.r.get("item") or []},
            recipients,
            response,
            key=f"{record_id}/handover/{node.path}",
            summary=summary,
        )
        for node in walk(questionnaire, response)
        if node.q["linkId"] == recipients.group
    ]
