"""Keep the picture a clinician was shown, so the checklist is checked and stored against what they saw."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from app.picture import Picture

__all__ = ["PictureCache"]


class PictureCache:
    """A small in-process cache keyed by an unguessable id that the form carries; old entries drop out."""

    def __init__(self, *, max_entries: int = 500, ttl_s: float = 4 * 3600) -> None:
        self._entries: OrderedDict[str, tuple[float, str, Picture]] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_s

    def put(self, picture: Picture, *, user_id: str) -> str:
        key = secrets.token_urlsafe(16)
        self._entries[key] = (time.monotonic(), user_id, picture)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return key

    def get(self, key: str, *, user_id: str, nhs_number: str) -> Picture | None:
        """The picture, if it exists, is fresh, was shown to this user and is of this baby."""
        found = self._entries.get(key)
        if found is None:
            return None
        stored_at, owner, picture = found
        if time.monotonic() - stored_at > self._ttl or owner != user_id or picture.baby.nhs_number != nhs_number:
            return None
        return picture
