"""The same submission sent twice is stored once: a key per filled-in form (or API request), and its answers.

A nurse whose "saved" page never arrived presses Save again; an API client retries after a timeout. Both
send the key of the first attempt, and find what it stored. The digest of the answers tells a true repeat
from a key sent again with other answers, which is refused rather than silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi import HTTPException, status

__all__ = ["HEADER", "answers_digest", "valid_submission_key"]

HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as a header or a form field carries it unchanged


def valid_submission_key(key: str | None) -> str | None:
    """The key as sent, or 400 if it is not one; None where none was sent (each request is then new)."""
    if key is None or key == "":
        return None
    if not _KEY.fullmatch(key):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"{HEADER} must be 1 to 255 visible ASCII characters, without spaces (a UUID is best)",
        )
    return key


def answers_digest(response: dict[str, Any]) -> str:
    """What was answered, independent of key order: equal for the same submission sent again."""
    return hashlib.sha256(json.dumps(response.get("item", []), sort_keys=True).encode()).hexdigest()
