"""The submission key as it arrives: the API's Idempotency-Key header, or the form's hidden field.

What a key means (the same submission stored once, a key reused for other answers refused) is decided in
app.checkpoints.submissions; here it is only read and checked for shape.
"""

from __future__ import annotations

import re

from fastapi import HTTPException, status

__all__ = ["HEADER", "valid_submission_key"]

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
