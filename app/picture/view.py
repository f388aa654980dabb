"""The picture as plain JSON, the `%picture` that checklist expressions (FHIRPath) read."""

from __future__ import annotations

from typing import Any

from .gestation import TERM_DAYS, corrected_age_days
from .models import Person, Picture

__all__ = ["picture_context"]


def picture_context(picture: Picture, *, checkpoint: str) -> dict[str, Any]:
    """Shape documented in checklists/README.md; keep the two in step."""
    return {
        "checkpoint": checkpoint,
        "records": [
            {
                "category": r.category,
                "current": r.current,
                "personRole": r.person_role,
                "personNhsNumber": r.person_nhs_number,
                "source": r.source,
                "code": r.code,
                "display": r.display,
                "resourceType": r.resource_type,
                "restricted": r.restricted,
                "heldBy": r.held_by,
            }
            for r in picture.records
        ],
        "sources": [{"name": s.name, "status": s.status, "detail": s.detail} for s in picture.sources],
        "people": [_person(p) for p in picture.people],
        "baby": _baby(picture),
        "openTasks": len(picture.open_tasks),
        "openTaskItems": sorted({t.raised_for for t in picture.open_tasks if t.raised_for}),
    }


def _person(p: Person) -> dict[str, Any]:
    return {
        "role": p.role,
        "name": p.name,
        "nhsNumber": p.nhs_number,
        "birthDate": p.birth_date.isoformat() if p.birth_date else None,
        "verified": p.verified,
        "relationship": p.relationship or p.role_label,
        "maleCarer": p.male_carer,
        "language": p.language,
        "interpreterRequired": p.interpreter_required,
        "checks": [{"source": name, "status": c.status, "detail": c.detail} for name, c in p.checks.items()],
    }


def _baby(picture: Picture) -> dict[str, Any]:
    """Gestation at birth as the record states it; unknown stays null, never "term"."""
    days = picture.gestation_days
    return {
        "gestationWeeks": None if days is None else days // 7,
        "gestationDays": None if days is None else days % 7,
        "preterm": None if days is None else days < TERM_DAYS,
        "correctedAgeDays": corrected_age_days(picture.baby.birth_date, days, picture.gathered_at.date()),
    }
