"""Compare what NeoSafe stored with what the write-back server holds: missing and duplicated resources.

Every written resource carries its assessment's tag and its own write key (bundle.py), so the server can
be asked, per assessment and type, for exactly what NeoSafe wrote.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from sqlmodel import col, select

from app.sources import FhirClient

from .bundle import ASSESSMENT_TAG_SYSTEM, WRITE_KEY_SYSTEM
from .db import SessionFactory
from .models import OutboxEntry

__all__ = ["Finding", "reconcile"]


@dataclass(frozen=True)
class Finding:
    assessment_id: str
    problem: str  # missing | duplicated | not-sent
    resource_type: str
    key: str
    count: int

    def __str__(self) -> str:
        if self.problem == "not-sent":
            return f"{self.assessment_id}: not sent yet ({self.key})"
        return f"{self.assessment_id}: {self.resource_type} {self.key} {self.problem} (found {self.count})"


def _tag(resource: dict, system: str) -> str | None:
    return next((t["code"] for t in (resource.get("meta") or {}).get("tag") or [] if t.get("system") == system), None)


def _write_key(resource: dict) -> str | None:
    return _tag(resource, WRITE_KEY_SYSTEM)


async def reconcile(
    sessions: SessionFactory, client: FhirClient, *, target: str | None = None
) -> tuple[int, list[Finding]]:
    """(assessments checked, findings): every sent resource should be on the server exactly once. Only the entries
    written to `target` (None: the write_back source), which `client` must be."""
    target_is = col(OutboxEntry.target).is_(None) if target is None else col(OutboxEntry.target) == target
    async with sessions() as session:
        entries = list(
            (await session.exec(select(OutboxEntry).where(target_is).order_by(OutboxEntry.created_at))).all()
        )
    findings: list[Finding] = []
    for entry in entries:
        if entry.state != "sent":
            findings.append(Finding(entry.assessment_id, "not-sent", "", entry.state, 0))
            continue
        expected: dict[str, set[str]] = {}
        resources = [item["resource"] for item in json.loads(entry.bundle_json)["entry"]]
        for resource in resources:
            expected.setdefault(resource["resourceType"], set()).add(_write_key(resource))
        # Every version of a checklist is tagged with its first version's id (bundle.py), so an amendment is
        # looked for under the tag it was written with, not under its own id.
        record_id = next(filter(None, (_tag(r, ASSESSMENT_TAG_SYSTEM) for r in resources)), entry.assessment_id)
        for resource_type, keys in expected.items():
            result = await client.search(
                resource_type, {"_tag": f"{ASSESSMENT_TAG_SYSTEM}|{record_id}", "_count": "500"}
            )
            found = Counter(_write_key(r.model_dump(mode="json")) for r in result.resources)
            for key in sorted(keys | set(found)):
                if found[key] == 0:
                    findings.append(Finding(entry.assessment_id, "missing", resource_type, key, 0))
                elif found[key] > 1:
                    findings.append(Finding(entry.assessment_id, "duplicated", resource_type, key, found[key]))
    return len(entries), findings
