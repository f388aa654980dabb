"""Check a response before it is accepted: required items answered, minOccurs/maxOccurs, answers of the right kind,
typed answers no longer than the item's maxLength, dates within the item's minValue/maxValue.

Issues name the item's path so pages can put the message beside the field, and the API can return
them as an OperationOutcome. Messages say what to do, in NHS.UK style ("Select…", "Enter…").

Completeness is judged against the Questionnaire, not against what the response happens to hold: an item the
response leaves out is treated as there and unanswered (its path is where it would be, index ~0), so an empty
or cut-down response is never accepted as complete. An item the checklist does not define at that place, and a
non-repeating item or group given more than once, are issues too: they are never dropped silently.

Inside an entry of a repeating group (one per source, one per person) a message names the entry ("Select yes or no
for Jason Smith (father): ..."), so five "Have you reviewed this source?" say which source each is about.

A date's plausible range is data: the core minValue/maxValue extensions, as a fixed valueDate or, the SDC way, a
valueDate whose cqf-expression is `today()` (optionally `today() - 1 year` and the like), read on the unit's clock.

A group entry nobody answered is not there (it is pruned), so its required questions are only asked for when
the group itself must be answered: a required group with no answered entry at all. An empty extra entry of a
repeating group ("Add another", then nothing typed) never blocks a submission.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.fhir_systems import FHIR_EXTENSION_BASE
from app.nhs_style import nhs_date

from .answers import LONDON, entry_name, entry_of, label, lower_first, option_codings, subject
from .enable_when import enabled_paths
from .extensions import is_hidden, max_occurs, min_occurs
from .populate import with_every_item
from .tree import Node, child_definitions, walk

__all__ = [
    "CQF_EXPRESSION",
    "DEFAULT_MAX_LENGTH",
    "MAX_VALUE",
    "MIN_VALUE",
    "Issue",
    "bound_of",
    "bound_problem",
    "enabled_items",
    "prune",
    "required_message",
    "validate",
    "without_calculated_bounds",
]

MIN_VALUE = FHIR_EXTENSION_BASE + "minValue"
MAX_VALUE = FHIR_EXTENSION_BASE + "maxValue"
CQF_EXPRESSION = FHIR_EXTENSION_BASE + "cqf-expression"
# The expressions a date bound may be: today(), or today() plus or minus a whole number of days, weeks, months or
# years (FHIRPath's calendar durations), e.g. "today() - 18 years".
TODAY = re.compile(r"today\(\)(?:\s*([+-])\s*(\d{1,4})\s+(days?|weeks?|months?|years?))?")

# The longest typed answer (characters) NeoSafe takes for an item whose checklist declares no maxLength, e.g. an
# archived version from before checklists declared one. Each item of a checklist in use declares its own (lint).
DEFAULT_MAX_LENGTH = 4000

ACCEPTED = {
    "boolean": ("valueBoolean",),
    "decimal": ("valueDecimal",),
    "integer": ("valueInteger",),
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "time": ("valueTime",),
    "string": ("valueString",),
    "text": ("valueString",),
    "url": ("valueUri",),
    "choice": ("valueCoding",),
    "open-choice": ("valueCoding", "valueString"),
    "attachment": ("valueAttachment",),
    "reference": ("valueReference",),
    "quantity": ("valueQuantity",),
}


@dataclass(frozen=True)
class Issue:
    path: str
    link_id: str
    message: str


def required_message(item: dict[str, Any], about: str | None = None) -> str:
    """What to do about an unanswered required item, naming it (and the entry it is `about`, if any)."""
    text, kind = label(item), item.get("type")
    of = f" for {about}" if about else ""
    if kind == "group":
        return f"Answer at least one question{of or ' in'}: {text}"
    if kind == "boolean":
        return f"Select yes or no{of}: {text}"
    if kind in ("choice", "open-choice"):
        if item.get("repeats"):
            return f"Select at least one option{of}: {text}"
        return f"Select an answer{of}: {text}" if text.endswith("?") else f"Select {lower_first(text)}{of}"
    return f"Enter an answer{of}: {text}" if text.endswith("?") else f"Enter {lower_first(text)}{of}"


def _too_few(item: dict[str, Any], needed: int, about: str | None = None) -> str:
    if item.get("type") == "group":
        return f"Enter at least {needed} entries for: {label(item)}"
    verb = "Select" if item.get("type") in ("choice", "open-choice") else "Enter"
    return f"{verb} at least {needed} answers: {subject(item, about)}"


def _too_many(item: dict[str, Any], most: int, about: str | None = None) -> str:
    if item.get("type") == "group":
        return f"Leave no more than {most} entries filled in for: {label(item)}"
    verb = "Select" if item.get("type") in ("choice", "open-choice") else "Enter"
    return f"{verb} no more than {most} answers: {subject(item, about)}"


def _answer_problem(item: dict[str, Any], answer: dict[str, Any], what: str) -> str | None:
    kind = item.get("type", "")
    keys = [k for k in answer if k.startswith("value")]
    accepted = ACCEPTED.get(kind)
    if accepted is not None and (len(keys) != 1 or keys[0] not in accepted):
        return f"Give a {kind} answer: {what}"
    if "valueCoding" in answer and option_codings(item):
        coding = answer["valueCoding"]
        allowed = {(c.get("system"), c.get("code")) for c in option_codings(item)}
        if (coding.get("system"), coding.get("code")) not in allowed:
            return f"Select one of the options ('{coding.get('code')}' is not one): {what}"
    return None


def _too_long(item: dict[str, Any], answer: dict[str, Any], what: str) -> str | None:
    """A typed answer longer than the item's maxLength (or DEFAULT_MAX_LENGTH where it declares none)."""
    text = answer.get("valueString")
    most = item.get("maxLength") or DEFAULT_MAX_LENGTH
    if isinstance(text, str) and len(text) > most:
        return f"Enter at most {most} characters (this answer has {len(text)}): {what}"
    return None


def _shifted(day: date, sign: str, count: int, unit: str) -> date:
    """`day` moved by a calendar duration; a month or year end that does not exist is the month's last day."""
    n = count if sign == "+" else -count
    if unit.startswith(("day", "week")):
        return day + timedelta(days=n * (7 if unit.startswith("week") else 1))
    months = day.year * 12 + day.month - 1 + n * (12 if unit.startswith("year") else 1)
    year, month = divmod(months, 12)
    for last in range(day.day, 27, -1):
        try:
            return day.replace(year=year, month=month + 1, day=last)
        except ValueError:
            continue
    return day.replace(year=year, month=month + 1)


def bound_of(item: dict[str, Any], url: str, today: date) -> tuple[date, bool] | None:
    """The item's minValue or maxValue (`url`) as a date, and whether it is today's date; None if it has none.
    ValueError for a bound the engine cannot read (lint finds these before a checklist is used)."""
    extension = next((e for e in item.get("extension") or [] if e.get("url") == url), None)
    if extension is None:
        return None
    calculated = next(
        (
            e.get("valueExpression") or {}
            for e in (extension.get("_valueDate") or {}).get("extension") or []
            if e.get("url") == CQF_EXPRESSION
        ),
        None,
    )
    if calculated is not None:
        found = TODAY.fullmatch(str(calculated.get("expression", "")).strip())
        if calculated.get("language") != "text/fhirpath" or found is None:
            raise ValueError(f"{url.rsplit('/', 1)[1]} expression must be today(), or today() +/- a duration")
        sign, count, unit = found.groups()
        return (_shifted(today, sign, int(count), unit) if sign else today), sign is None
    if "valueDate" not in extension:
        raise ValueError(f"{url.rsplit('/', 1)[1]} on a date question must be a valueDate")
    return date.fromisoformat(extension["valueDate"]), False


def without_calculated_bounds(questionnaire: dict[str, Any]) -> dict[str, Any]:
    """A copy for the R4B model to check, without the `_valueDate` of a calculated minValue/maxValue: valid FHIR (an
    extension on the primitive value), but fhir.resources does not model extensions on an Extension's value[x].
    `bound_of` reads what is taken out; lint checks it."""
    copied = copy.deepcopy(questionnaire)
    stack = list(copied.get("item") or [])
    while stack:
        item = stack.pop()
        stack.extend(item.get("item") or [])
        for extension in item.get("extension") or []:
            if extension.get("url") in (MIN_VALUE, MAX_VALUE):
                extension.pop("_valueDate", None)
    return copied


def _answered_day(answer: dict[str, Any]) -> date | None:
    """The calendar day of a date or dateTime answer, on the unit's clock; None for a partial date."""
    try:
        if "valueDate" in answer:
            return date.fromisoformat(answer["valueDate"])
        moment = datetime.fromisoformat(str(answer.get("valueDateTime")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment.astimezone(LONDON) if moment.tzinfo else moment).date()


def bound_problem(item: dict[str, Any], answer: dict[str, Any], what: str, today: date) -> str | None:
    """A date before the item's minValue or after its maxValue: a retry date in the past, a birth in the future."""
    if item.get("type") not in ("date", "dateTime"):
        return None
    day = _answered_day(answer)
    if day is None:
        return None
    low, high = bound_of(item, MIN_VALUE, today), bound_of(item, MAX_VALUE, today)
    if low is not None and day < low[0]:
        return f"{what} must be today or in the future" if low[1] else f"{what} must be on or after {nhs_date(low[0])}"
    if high is not None and day > high[0]:
        return f"{what} must be today or in the past" if high[1] else f"{what} must be on or before {nhs_date(high[0])}"
    return None


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Form:
    """The response as validation sees it: enabled items, answered entries, entries that are not there."""

    def __init__(self, questionnaire: dict[str, Any], response: dict[str, Any], enabled: set[str]) -> None:
        self.enabled = enabled
        self.nodes = [n for n in walk(questionnaire, response) if n.path in self.enabled]
        self.answered: set[str] = set()
        for node in self.nodes:
            if not node.is_group and node.r.get("answer"):
                self.answered.update([node.path, *_ancestors(node.path)])
        self.siblings: dict[tuple[str, str], list[Node]] = defaultdict(list)
        for node in self.nodes:
            self.siblings[(node.path.rpartition("/")[0], node.q["linkId"])].append(node)
        self.absent = {n.path for n in self.nodes if n.is_group and self._absent(n)}
        self.by_path = {n.path: n for n in self.nodes}

    def about(self, path: str, names: Mapping[str, str] | None) -> str | None:
        """The name of the repeating group entry `path` is (or sits in), for its messages; None outside one."""
        entry = entry_of(path, self.by_path)
        return entry_name(entry, names) if entry else None

    def _absent(self, node: Node) -> bool:
        if node.path in self.answered:
            return False
        if not node.q.get("required"):
            return True
        entries = self.siblings[(node.path.rpartition("/")[0], node.q["linkId"])]
        if any(e.path in self.answered for e in entries):
            return True
        return entries[0] is not node  # none answered: ask for the first entry only

    def considered(self) -> list[Node]:
        """Enabled items that are there: not inside an absent group entry."""
        return [n for n in self.nodes if not any(a in self.absent for a in _ancestors(n.path))]


def _occurrences(form: _Form, considered: list[Node]) -> list[Issue]:
    issues = []
    paths = {n.path for n in considered}
    for entries in form.siblings.values():
        first = entries[0]
        if not (first.is_group and first.q.get("repeats")) or first.path not in paths:
            continue
        filled = [e for e in entries if e.path in form.answered]
        # None filled: the first entry's questions are asked for, and a minimum above one is said as well.
        least = min_occurs(first.q)
        if first.q.get("required") and len(filled) < least and (filled or least > 1):
            issues.append(Issue(first.path, first.q["linkId"], _too_few(first.q, least)))
        most = max_occurs(first.q)
        if most is not None and len(filled) > most:
            issues.append(Issue(filled[-1].path, first.q["linkId"], _too_many(first.q, most)))
    return issues


def _not_in_checklist(link_id: str) -> str:
    return f"Remove '{link_id}': it is not a question of this checklist"


def _given_twice(item: dict[str, Any]) -> str:
    if item.get("type") == "group":
        return f"Give one entry only: {label(item)}"
    return f"Give this question once only: {label(item)}"


def _strays(questionnaire: dict[str, Any], response: dict[str, Any]) -> list[Issue]:
    """Items the checklist does not define where they are, and extra instances of non-repeating items."""
    issues: list[Issue] = []

    def visit(q_items: list[dict[str, Any]], r_items: list[dict[str, Any]], prefix: str) -> None:
        defined = {q["linkId"]: q for q in child_definitions({"item": q_items})}
        counts: dict[str, int] = {}
        for r in r_items:
            link_id = str(r.get("linkId", ""))
            index = counts.get(link_id, 0)
            counts[link_id] = index + 1
            path = f"{prefix}{link_id}~{index}"
            q = defined.get(link_id)
            if q is None:
                issues.append(Issue(path, link_id, _not_in_checklist(link_id)))
                continue
            if index > 0 and not q.get("repeats"):
                issues.append(Issue(path, link_id, _given_twice(q)))
            # Only a group has items of its own in a response (a question's children are help text).
            visit(q.get("item") or [] if q.get("type") == "group" else [], r.get("item") or [], path + "/")

    visit(questionnaire.get("item") or [], response.get("item") or [], "")
    return issues


def _position(order: dict[str, int], path: str) -> tuple[int, int]:
    """Where an issue goes in form order: at its item, or (an item not in the checklist) after its parent's."""
    if path in order:
        return order[path], 0
    parents = [p for p in reversed(_ancestors(path)) if p in order]
    return (order[parents[0]], 1) if parents else (len(order), 1)


def enabled_items(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> set[str]:
    """The enabled item paths as validate and prune both read them: over the whole checklist (an item left out
    is there, unanswered), once. A submission computes them once and hands them to both, so what is checked is
    what is kept."""
    return enabled_paths(questionnaire, with_every_item(questionnaire, response), env)


def validate(
    questionnaire: dict[str, Any],
    response: dict[str, Any],
    env: dict[str, Any],
    *,
    today: date | None = None,
    names: Mapping[str, str] | None = None,
    enabled: set[str] | None = None,
) -> list[Issue]:
    """Every reason the response cannot be completed yet, in form order.

    Checked against the Questionnaire: every enabled required item must be answered whether or not the response
    holds it, and nothing may be there that the checklist does not ask (or asks once only) at that place.
    `today` is the unit's date (now in Europe/London unless given); `names` gives words for the names NeoSafe
    fills in as keys (source keys: their labels), as messages name each entry.
    """
    today = today or datetime.now(LONDON).date()
    strays = _strays(questionnaire, response)
    # Items left out are there, unanswered: enableWhen and required then see the whole checklist. Paths of the
    # items that are there stay the same (linkId~index among siblings of one linkId).
    if enabled is None:
        enabled = enabled_items(questionnaire, response, env)
    form = _Form(questionnaire, with_every_item(questionnaire, response), enabled)
    considered = form.considered()
    hidden: set[str] = set()
    issues: list[Issue] = []
    for node in considered:
        q, link_id = node.q, node.q["linkId"]
        if is_hidden(q) or node.path.rpartition("/")[0] in hidden:
            hidden.add(node.path)
        answers = [] if node.is_group else node.r.get("answer") or []
        can_answer = not q.get("readOnly") and node.path not in hidden
        about = form.about(node.path, names)
        if q.get("required") and can_answer and node.path not in form.answered and node.path not in form.absent:
            issues.append(Issue(node.path, link_id, required_message(q, about)))
        if node.is_group:
            continue
        if answers and q.get("required") and can_answer and len(answers) < min_occurs(q):
            issues.append(Issue(node.path, link_id, _too_few(q, min_occurs(q), about)))
        most = max_occurs(q)
        what = subject(q, about)
        if most == 1 and len(answers) > 1:
            issues.append(Issue(node.path, link_id, f"Give one answer only: {what}"))
        elif most is not None and len(answers) > most:
            issues.append(Issue(node.path, link_id, _too_many(q, most, about)))
        for answer in answers:
            # What the clinician cannot change (read-only or hidden: NeoSafe pre-filled it, e.g. a source's own
            # error text) never blocks the checklist; everything they type is held to the limit and the bounds.
            typed = (_too_long(q, answer, what) or bound_problem(q, answer, what, today)) if can_answer else None
            problem = _answer_problem(q, answer, what) or typed
            if problem:
                issues.append(Issue(node.path, link_id, problem))
                break
    issues += _occurrences(form, considered) + strays
    order = {n.path: i for i, n in enumerate(form.nodes)}
    issues.sort(key=lambda i: _position(order, i.path))
    # A group's "answer this" adds nothing when a question inside it already says what is missing.
    return [
        i
        for i in issues
        if not (i.message.startswith("Answer at least one") and any(o.path.startswith(i.path + "/") for o in issues))
    ]


def prune(
    questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any], *, enabled: set[str] | None = None
) -> dict[str, Any]:
    """A copy without disabled items (their earlier answers go too) and without empty items.

    Hidden items stay: they are part of the response even though the form never shows them. `enabled`: the
    `enabled_items` validate used, if it has them.
    """
    if enabled is None:
        enabled = enabled_items(questionnaire, response, env)
    pruned = copy.deepcopy(response)
    keep = {id(n.r) for n in walk(questionnaire, pruned) if n.path in enabled}

    def clean(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for item in items:
            if id(item) not in keep:
                continue
            if "item" in item:
                item["item"] = clean(item["item"])
                if not item["item"]:
                    del item["item"]
            if item.get("answer") or item.get("item"):
                kept.append(item)
        return kept

    pruned["item"] = clean(pruned.get("item") or [])
    return pruned
