"""The handover summary: the safeguarding picture and what the checklists recorded, as the community team needs it.

Each section of fhir_mappings/handover.toml is filled from the newest checklist of each kind (its latest
version), with every answered question in the checklist's own words. A checklist never completed is said to
be not yet recorded; the summary never fills a gap with "none".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from app.assessments import Assessment
from app.forms import CHECKPOINTS, Checklists, Line, RaisedTask, TaskRule, answered_lines, raised_tasks
from app.picture import Picture

from .holds import DischargeHold
from .sections import Section

__all__ = ["Handover", "Part", "Recorded", "build_handover"]


@dataclass(frozen=True)
class Recorded:
    """The checklist a part came from."""

    checkpoint: str
    assessment_id: str
    version: int
    status: str
    completed_at: datetime
    author: str
    title: str


@dataclass(frozen=True)
class Part:
    checkpoint: str
    title: str  # the checklist item's own words, e.g. "D5. Everyone who will care for the baby"
    recorded: Recorded | None  # None: that checklist has not been completed for this baby
    lines: tuple[Line, ...] = ()  # empty when recorded but nothing under it was answered (it did not apply)


@dataclass(frozen=True)
class Handover:
    picture: Picture
    made_at: datetime
    recorded: tuple[Recorded, ...]  # the checklists it draws on, admission first
    sections: tuple[tuple[str, tuple[Part, ...]], ...]
    tasks: tuple[tuple[Recorded, RaisedTask], ...] = ()  # what those checklists asked to be done, and by whom
    hold: DischargeHold | None = None  # of the newest discharge checklist: what holds the baby from going home

    @property
    def missing(self) -> list[str]:
        """Checkpoints the sections draw on whose checklist has not been completed: said at the top of the summary.
        An in-stay check no section draws on is not listed (the baby's page shows when it is due)."""
        done = {r.checkpoint for r in self.recorded}
        drawn = {part.checkpoint for _, parts in self.sections for part in parts}
        return [c for c in CHECKPOINTS if c in drawn and c not in done]


def build_handover(
    picture: Picture,
    assessments: list[Assessment],
    checklists: Checklists,
    sections: list[Section],
    task_rules: list[TaskRule] = (),
    *,
    now: datetime,
    hold: DischargeHold | None = None,
) -> Handover:
    """`assessments`: the baby's, in any order; the newest of each checkpoint is the one used. `hold`: what holds
    the newest discharge checklist (None before there is one)."""
    newest: dict[str, Assessment] = {}
    for assessment in sorted(assessments, key=lambda a: a.created_at):
        newest[assessment.checkpoint] = assessment
    responses = {c: json.loads(a.response_json) for c, a in newest.items()}
    recorded = {
        c: Recorded(
            checkpoint=c,
            assessment_id=a.id,
            version=a.version,
            status=a.status,
            completed_at=a.created_at,
            author=(responses[c].get("author") or {}).get("display", a.author_id),
            title=checklists.for_response(responses[c]).get("title", c),
        )
        for c, a in newest.items()
    }
    built = []
    for section in sections:
        parts = []
        for checkpoint, link_id in section.items:
            current = checklists.for_checkpoint(checkpoint)
            title = next(i.get("text", link_id) for i in current["item"] if i["linkId"] == link_id)
            if checkpoint not in responses:
                parts.append(Part(checkpoint, title, None))
                continue
            questionnaire = checklists.for_response(responses[checkpoint])
            parts.append(
                Part(
                    checkpoint,
                    title,
                    recorded[checkpoint],
                    answered_lines(questionnaire, responses[checkpoint], link_id),
                )
            )
        built.append((section.title, tuple(parts)))
    in_order = tuple(recorded[c] for c in CHECKPOINTS if c in recorded)
    tasks = tuple(
        (r, task)
        for r in in_order
        for task in raised_tasks(
            checklists.for_response(responses[r.checkpoint]),
            responses[r.checkpoint],
            [rule for rule in task_rules if rule.checkpoint == r.checkpoint],
        )
    )
    return Handover(picture=picture, made_at=now, recorded=in_order, sections=tuple(built), tasks=tasks, hold=hold)
