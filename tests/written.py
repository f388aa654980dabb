"""Delete what a test's checklists wrote to the unit's record, so the seeded families stay as described.

Each resource NeoSafe writes carries its assessment's tag. A test that saves a checklist for a seeded family
deletes them afterwards, so a later test (in any folder) sees the same safeguarding picture whatever order
the tests run in.
"""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM, WRITTEN_TYPES


def delete_written(neonatal: httpx.Client, reference: str) -> None:
    """Delete every resource of every type NeoSafe writes tagged with this assessment; check none is left."""
    for kind in WRITTEN_TYPES:
        found = neonatal.get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}&_count=500").raise_for_status()
        for entry in found.json().get("entry") or []:
            neonatal.delete(f"{kind}/{entry['resource']['id']}").raise_for_status()
        left = neonatal.get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").raise_for_status().json()
        assert not left.get("entry"), f"{kind} written by {reference} is still on the record"
