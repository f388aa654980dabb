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

__all__ = ["Recipients", "handover_communications", "load_recipients"]


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


def load_recipients(path: Path, checklists: Checklists) -> Recipients:
    table = read_toml(path).get("recipients") or {}
    known = {d["linkId"] for d in definitions(checklists.for_checkpoint("discharge"))}
    for f in fields(Recipients):
        if table.get(f.name) not in known:
            raise ConfigError(f"{path.name}, [recipients]: {f.name} must name a discharge checklist item")
    return Recipients(**{f.name: table[f.name] for f in fields(Recipients)})


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
