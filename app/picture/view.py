"""The picture as plain JSON, the `%picture` that checklist expressions (FHIRPath) read."""

from __future__ import annotations

from typing import Any

from .models import Picture

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
            }
            for r in picture.records
        ],
        "sources": [{"name": s.name, "status": s.status, "detail": s.detail} for s in picture.sources],
        "people": [
            {
                "role": p.role,
                "name": p.name,
                "nhsNumber": p.nhs_number,
                "verified": p.verified,
                "relationship": p.relationship or p.role_label,
                "maleCarer": p.male_carer,
            }
            for p in picture.people
        ],
        "baby": {"gestationWeeks": None, "preterm": None},
        "openTasks": len(picture.open_tasks),
    }
