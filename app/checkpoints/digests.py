"""A digest of a checklist's answers: tells the same answers from changed ones, whatever the key order."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["answers_digest"]


def answers_digest(response: dict[str, Any]) -> str:
    """What was answered, independent of key order: equal for the same submission sent again, and for a version
    that only adds a signature (a co-signature)."""
    return hashlib.sha256(json.dumps(response.get("item", []), sort_keys=True).encode()).hexdigest()
