"""What changed since the baby's previous checkpoint: records that appeared, ended or changed, and those gone.

An assessment keeps a snapshot of the records it was made against; the next picture is compared with it,
so a social-care episode closed since admission, or a new police notice, is pointed out at discharge. A record
seen then whose source (or whose person, at that source) is not checked now is not "no longer found": it is
marked `checked_now: false`, and shown as not checked, not as gone.
"""

from __future__ import annotations

from typing import Any

from .models import UNCHECKED_PERSON, Picture, Record

__all__ = ["mark_changes", "snapshot"]

COMPARED = ("category", "current", "status", "start", "end", "display", "source")
KEPT = (*COMPARED, "category_label", "restricted", "person_nhs_number")  # what a record no longer found is shown with


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
    picture.gone = [
        {"category_label": r["category"], "restricted": True, **r, "checked_now": _checked_now(picture, r)}
        for r in before.values()
    ]


def _checked_now(picture: Picture, record: dict[str, Any]) -> bool:
    """Whether the record's source answered for its person now, so that its absence means something. A snapshot
    that did not keep the person (kept before it did) is judged on the source alone; a person nobody in the picture
    has the NHS number of now (one a PDS trace gave then, not traced now) was not asked about now."""
    source = record.get("source")
    if any(s.name == source and not s.checked for s in picture.sources):
        return False
    number = record.get("person_nhs_number")
    held = [p for p in (picture.baby, *picture.people) if number and p.nhs_number == number]
    for person in held:
        if (check := person.checks.get(source or "")) is not None:
            return check.status not in UNCHECKED_PERSON
    return not number or bool(held)
