"""What changed since the baby's previous checkpoint: records that appeared, ended or changed, and those gone.

An assessment keeps a snapshot of the records it was made against; the next picture is compared with it,
so a social-care episode closed since admission, or a new police notice, is pointed out at discharge.
"""

from __future__ import annotations

from typing import Any

from .models import Picture, Record

__all__ = ["mark_changes", "snapshot"]

COMPARED = ("category", "current", "status", "start", "end", "display", "source")
KEPT = (*COMPARED, "category_label", "restricted")  # what a record no longer found is shown with, and to whom


def snapshot(picture: Picture) -> list[dict[str, Any]]:
    """The records as an assessment keeps them."""
    return [{"key": r.key, **{field: getattr(r, field) for field in KEPT}} for r in picture.records]


def _differs(record: Record, before: dict[str, Any]) -> list[str]:
    return [field for field in COMPARED if before.get(field) != getattr(record, field)]


def mark_changes(picture: Picture, earlier: list[dict[str, Any]], *, since: str) -> None:
    """Mark each record new or changed since the earlier snapshot, and list what is no longer found."""
    before = {r["key"]: r for r in earlier}
    for record in picture.records:
        old = before.pop(record.key, None)
        if old is None:
            record.change = "new"
        elif _differs(record, old):
            record.change = "ended" if old.get("current") and not record.current else "changed"
    picture.changes_since = since
    # Snapshots kept before the restricted flag was: treat their records as restricted, the cautious reading.
    picture.gone = [{"category_label": r["category"], "restricted": True, **r} for r in before.values()]
