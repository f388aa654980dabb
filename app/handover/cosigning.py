"""A checklist's co-signature as people read it: who co-signed, in what role, and when.

A co-signature is stored as a new version carrying the verifier's signature and the same answers; it is still
the same checklist (one record id, one reference), so pages say "co-signed by", never "amended".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.assessments import Assessment
from app.forms import VERIFIER
from app.forms.extensions import SIGNATURE

__all__ = ["CoSignature", "cosignature", "record_id", "version_label"]


@dataclass(frozen=True)
class CoSignature:
    by: str  # the person with their role, as their signature names them: "Chris Okafor (Safeguarding lead)"
    at: datetime | None

    @property
    def words(self) -> str:
        """'Co-signed by Chris Okafor (Safeguarding lead) at 14:05 on 2 December 2026'."""
        when = f" at {self.at:%H:%M} on {self.at.day} {self.at:%B %Y}" if self.at else " (time not recorded)"
        return f"Co-signed by {self.by}{when}"


def _verifier(response: dict[str, Any]) -> dict[str, Any] | None:
    for extension in response.get("extension") or []:
        signed = extension.get("valueSignature") or {}
        if extension.get("url") == SIGNATURE and any(t.get("code") == VERIFIER["code"] for t in signed.get("type", [])):
            return signed
    return None


def cosignature(assessment: Assessment) -> CoSignature | None:
    """The verifier's signature on this version, if it carries one."""
    signed = _verifier(json.loads(assessment.response_json))
    if signed is None:
        return None
    who = signed.get("who") or {}
    name = who.get("display") or (who.get("identifier") or {}).get("value") or "name not recorded"
    try:
        at = datetime.fromisoformat(signed["when"]) if signed.get("when") else None
    except ValueError:
        at = None
    return CoSignature(name, at)


def version_label(versions: list[Assessment], index: int) -> str:
    """What version `index` of a checklist (its chain, first first) did: completed, co-signed or amended, by whom."""
    version = versions[index]
    author = (json.loads(version.response_json).get("author") or {}).get("display") or version.author_id
    if index == 0:
        return f"completed by {author}"
    signed, before = cosignature(version), cosignature(versions[index - 1])
    same_answers = json.loads(version.response_json).get("item") == json.loads(versions[index - 1].response_json).get(
        "item"
    )
    if signed and not before and same_answers:
        return signed.words[0].lower() + signed.words[1:]
    return f"amended by {author}"


def record_id(assessment: Assessment, by_id: dict[str, Assessment]) -> str:
    """The checklist's reference: its first version's id, kept through every co-signature and amendment."""
    while assessment.amends and assessment.amends in by_id:
        assessment = by_id[assessment.amends]
    return assessment.id
