"""The handover summary: key risks and actions first, then what the checklists recorded, then the whole picture.

Each section of fhir_mappings/handover.toml is filled from the newest checklist of each kind (its latest
version), with every answered question in the checklist's own words. A checklist never completed is said to
be not yet recorded; the summary never fills a gap with "none". A summary is made for one checkpoint: at
discharge a baby going home was not necessarily transferred, and at transfer has not been discharged, so the
other one's questions appear only where that checklist was actually completed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from app.assessments import Assessment
from app.forms import (
    CHECKPOINTS,
    Checklists,
    Line,
    RaisedTask,
    TaskRule,
    answered_lines,
    label,
    option_codings,
    raised_tasks,
    walk,
)
from app.nhs_style import nhs_date
from app.picture import OpenTask, Picture

from .cosigning import CoSignature, cosignature, record_id
from .holds import DischargeHold
from .sections import Section

__all__ = ["Action", "Fact", "Handover", "Part", "Recorded", "build_handover"]

# The checkpoint whose questions a summary made at the other leaves out unless that checklist was completed.
NOT_EXPECTED = {"discharge": "transfer", "transfer": "discharge"}


@dataclass(frozen=True)
class Recorded:
    """The checklist a part came from."""

    checkpoint: str
    assessment_id: str
    record_id: str  # its reference: the first version's id, the same through co-signatures and amendments
    version: int
    status: str
    completed_at: datetime
    author: str
    title: str  # the checkpoint's short title, e.g. "72-hour review"
    amended: bool = False  # its answers differ from its first version's (a co-signature alone changes none)
    cosigned: CoSignature | None = None
    awaiting: tuple[str, ...] = ()  # signatures it still needs (a co-signature), as the checklist names them


@dataclass(frozen=True)
class Part:
    checkpoint: str
    title: str  # the checklist item's own words, e.g. "D5. Everyone who will care for the baby"
    recorded: Recorded | None  # None: that checklist has not been completed for this baby
    lines: tuple[Line, ...] = ()  # empty when recorded but nothing under it was answered (it did not apply)
    checklist: str = ""  # the checkpoint's short title, for "not yet recorded"


@dataclass(frozen=True)
class Fact:
    """A key fact on the first page: what the checklists say (each answer with the checklist it came from)."""

    title: str
    answers: tuple[tuple[str, str], ...]  # (answer, the short title of the checklist that recorded it)
    not_recorded: tuple[str, ...]  # short titles of checklists that would say it and are not yet completed


@dataclass(frozen=True)
class Action:
    """One row of the summary's one list of actions: raised by its checklists, or open in a source."""

    what: str
    detail: str
    owner: str
    due: str | None
    same_day: bool
    raised_by: str  # "Admission, 20 November 2026" (a checklist), or the source's name (see `source`)
    source: str | None = None  # the source holding a task open there that these checklists did not raise
    restricted: bool = False

    @classmethod
    def raised(cls, task: RaisedTask, raised_by: str = "") -> Action:
        return cls(
            task.rule.description, task.detail, task.owner, task.due, task.rule.priority in ("asap", "stat"), raised_by
        )

    @classmethod
    def open_in(cls, task: OpenTask) -> Action:
        return cls(task.description, "", task.owner, task.due, False, "", task.source, task.restricted)


@dataclass(frozen=True)
class Handover:
    picture: Picture  # as its reader may see it
    made_at: datetime
    recorded: tuple[Recorded, ...]  # the checklists it draws on, admission first
    sections: tuple[tuple[str, tuple[Part, ...]], ...]
    tasks: tuple[tuple[Recorded, RaisedTask], ...] = ()  # what those checklists asked to be done, and by whom
    hold: DischargeHold | None = None  # of the newest discharge checklist: what holds the baby from going home
    checkpoint: str = "discharge"  # the checkpoint it is made for
    facts: tuple[Fact, ...] = ()
    titles: dict[str, str] = field(default_factory=dict)  # each checkpoint's short title

    @property
    def missing(self) -> list[str]:
        """Checkpoints the sections draw on whose checklist has not been completed: said at the top."""
        done = {r.checkpoint for r in self.recorded}
        drawn = {part.checkpoint for _, parts in self.sections for part in parts}
        return [c for c in CHECKPOINTS if c in drawn and c not in done]

    @property
    def missing_titles(self) -> list[str]:
        return [self.titles.get(c, c) for c in self.missing]

    @property
    def awaiting(self) -> tuple[Recorded, ...]:
        """Checklists still waiting for a co-signature."""
        return tuple(r for r in self.recorded if r.awaiting)

    @property
    def actions(self) -> tuple[Action, ...]:
        """One list: what these checklists raised, as they recorded it, then every other task still open in the
        sources, as the reader may see it (a restricted one's detail withheld, as any restricted record's)."""
        ours = {r.record_id for r in self.recorded}
        raised = [Action.raised(t, f"{r.title}, {nhs_date(r.completed_at)}") for r, t in self.tasks]
        return (*raised, *(Action.open_in(t) for t in self.picture.open_tasks if t.raised_by not in ours))

    @property
    def drawn_picture(self) -> Picture:
        """The picture as the summary draws it after its actions: the open tasks are among those, not drawn twice."""
        return replace(self.picture, open_tasks=[])


def _text(item: dict[str, Any], answer: dict[str, Any]) -> str:
    coding = answer.get("valueCoding")
    if coding:
        known = {(o.get("system"), o.get("code")): o for o in option_codings(item)}
        return coding.get("display") or known.get((coding.get("system"), coding.get("code")), {}).get("display", "")
    for key in ("valueDate", "valueDateTime"):
        if key in answer:
            return nhs_date(answer[key])
    if "valueBoolean" in answer:
        return "Yes" if answer["valueBoolean"] else "No"
    return next((str(v) for k, v in answer.items() if k.startswith("value")), "")


def _answers_to(questionnaire: dict[str, Any], response: dict[str, Any], link_id: str) -> list[str]:
    """Each answer to question `link_id`, or for a group each entry's answers as one line ("Name: …, Role: …")."""
    found = []
    for node in walk(questionnaire, response):
        if node.q["linkId"] != link_id:
            continue
        if node.is_group:
            children = {c["linkId"]: c for c in node.q.get("item") or []}
            said = [
                f"{label(children[child['linkId']])}: {', '.join(texts)}"
                for child in node.r.get("item") or []
                if child["linkId"] in children
                and (texts := [t for a in child.get("answer") or [] if (t := _text(children[child["linkId"]], a))])
            ]
            if said:
                found.append("; ".join(said))
        else:
            found += [t for a in node.r.get("answer") or [] if (t := _text(node.q, a))]
    return found


def _shown(checkpoint: str, kind: str, responses: dict[str, Any]) -> bool:
    return checkpoint in responses or checkpoint != NOT_EXPECTED.get(kind)


def build_handover(
    picture: Picture,
    assessments: list[Assessment],
    checklists: Checklists,
    sections: list[Section],
    task_rules: list[TaskRule] = (),
    *,
    now: datetime,
    hold: DischargeHold | None = None,
    checkpoint: str = "discharge",
    awaiting: dict[str, tuple[str, ...]] | None = None,
    names: Mapping[str, str] | None = None,
) -> Handover:
    """`assessments`: the baby's, every version, in any order; the newest of each checkpoint is the one used.
    `names`: the source labels, so that what NeoSafe filled in as a source's key reads as its name.
    `hold`: what holds the newest discharge checklist (None before there is one). `awaiting`: by assessment id, the
    signatures each newest checklist still needs."""
    by_id = {a.id: a for a in assessments}
    newest: dict[str, Assessment] = {}
    for assessment in sorted(assessments, key=lambda a: a.created_at):
        newest[assessment.checkpoint] = assessment
    responses = {c: json.loads(a.response_json) for c, a in newest.items()}
    titles = {c: checklists.short_title(c) for c in CHECKPOINTS}
    recorded = {
        c: Recorded(
            checkpoint=c,
            assessment_id=a.id,
            record_id=record_id(a, by_id),
            version=a.version,
            status=a.status,
            completed_at=a.created_at,
            author=(responses[c].get("author") or {}).get("display", a.author_id),
            title=titles[c],
            amended=responses[c].get("item") != json.loads(by_id[record_id(a, by_id)].response_json).get("item"),
            cosigned=cosignature(a),
            awaiting=(awaiting or {}).get(a.id, ()),
        )
        for c, a in newest.items()
    }
    built, facts = [], []
    for section in sections:
        items = [(c, link_id) for c, link_id in section.items if _shown(c, checkpoint, responses)]
        if section.key:
            answers = [
                (text, titles[c])
                for c, link_id in items
                if c in responses
                for text in _answers_to(checklists.for_response(responses[c]), responses[c], link_id)
            ]
            missing = tuple(dict.fromkeys(titles[c] for c, _ in items if c not in responses))
            facts.append(Fact(section.title, tuple(answers), missing))
            continue
        parts = []
        for c, link_id in items:
            current = checklists.for_checkpoint(c)
            title = next(i.get("text", link_id) for i in current["item"] if i["linkId"] == link_id)
            if c not in responses:
                parts.append(Part(c, title, None, checklist=titles[c]))
                continue
            questionnaire = checklists.for_response(responses[c])
            lines = answered_lines(questionnaire, responses[c], link_id, names)
            parts.append(Part(c, title, recorded[c], lines, checklist=titles[c]))
        if parts:
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
    return Handover(
        picture=picture,
        made_at=now,
        recorded=in_order,
        sections=tuple(built),
        tasks=tasks,
        hold=hold,
        checkpoint=checkpoint,
        facts=tuple(facts),
        titles=titles,
    )
