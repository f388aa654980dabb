"""What holds a discharge, as the saved checklist, the API and the handover summary show it (app.checkpoints.holds
decides it): each finding the discharge checklist made, in words, and each override with who, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["DischargeHold", "Finding", "Override"]


@dataclass(frozen=True)
class Finding:
    id: str
    words: str


@dataclass(frozen=True)
class Override:
    finding: Finding
    by: str  # the person, with their role, as their signature names them
    at: datetime
    reason: str
    version: int  # of the checklist it was made on
    current: bool  # False: made on an earlier version whose answers have changed since, so it no longer holds


@dataclass(frozen=True)
class DischargeHold:
    """The findings of one version of a discharge checklist and the overrides made on its checklist."""

    assessment_id: str
    findings: tuple[Finding, ...]  # raised by this version's answers
    overrides: tuple[Override, ...] = ()  # every one made on the checklist, oldest first

    @property
    def open(self) -> tuple[Finding, ...]:
        """Findings raised and not overridden on these answers: while any is, the baby is not ready to go home."""
        overridden = {o.finding.id for o in self.overrides if o.current}
        return tuple(f for f in self.findings if f.id not in overridden)

    @property
    def held(self) -> bool:
        return bool(self.open)
