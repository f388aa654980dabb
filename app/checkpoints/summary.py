"""The safeguarding summary: the risk first, in words, at the top of every page about a baby.

Prominence comes from fhir_mappings/severity.toml (category, current, how recent), never from a record's own status
alone, so a historic domestic-abuse record outranks a current administrative flag. What could not be checked is
always in it: unknown is not no. Nothing is dropped: every record the picture holds is in one of its parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from app.forms import LONDON
from app.nhs_style import nhs_date
from app.picture import Picture
from app.picture.models import UNCHECKED_PERSON, Access, Record

from .severity import Severity, load_severity
from .wiring import Wiring

__all__ = ["AccessSeen", "Concern", "Severity", "Summary", "load_severity", "summarise", "summary_for"]


@dataclass(frozen=True)
class Concern:
    """A record as the summary says it: what, about whom, since when, from where. The same record held more than
    once (three police notices of one kind about one person) is one line with each of its dates."""

    category: str
    what: str
    about: str  # "Paweł BRZOZAK, father"
    when: tuple[str, ...]  # "current, since 30 July 2026", "14 January 2024 to 20 March 2025", newest first
    current: bool  # any of them
    source: str  # the source's label
    closure: str | None = None  # a closed social-care record: whether children's social care itself records it
    restricted: bool = False
    contacts: str | None = None  # a CP-IS plan: the local authority, office hours and out of hours


@dataclass(frozen=True)
class AccessSeen:
    """A CP-IS access history as the summary says it: about whom, each access dated (newest first) with where from
    (and who looked, for a role that may see it), how many settings, and what CP-IS sent that could not be read."""

    about: str  # "Mason DUNMORE, baby"
    accesses: tuple[str, ...]  # "23 November 2026, 21:15: Lowbridge Royal Infirmary Emergency Department (...)"
    settings: int  # how many organisations: several is a safeguarding signal
    left_out: int = 0  # entries CP-IS sent that could not be read (undated, unreadable, about someone else)


@dataclass
class Summary:
    """The parts of the summary, each in the order it is read."""

    # (key, label, [(category label, concerns)]) for each tier holding any; within one, the category whose record
    # leads (current, then newest) first
    tiers: list[tuple[str, str, list[tuple[str, list[Concern]]]]]
    needs: list[str] = field(default_factory=list)  # "Interpreter needed: Polish (Agnieszka LISOWIEC, mother)"
    administrative: list[Concern] = field(default_factory=list)
    sources_not_checked: list[str] = field(default_factory=list)  # "Police and GP notices: timed out"
    people_not_checked: list[str] = field(default_factory=list)  # "Paweł BRZOZAK, father: not checked in ..."
    access_history: list[AccessSeen] = field(default_factory=list)  # CP-IS's, each person with a plan, read


def _closure(record: Record, source_kind: str) -> str | None:
    """Whether a social-care closure is children's social care's own record, or only seen elsewhere."""
    if record.category not in ("social-care", "child-protection", "looked-after") or record.current:
        return None
    if record.end and source_kind in ("social-care", "cpis"):
        return "closure recorded by children's social care: confirm it with the local authority"
    if record.end:
        return "closure seen only in another service's record: confirm it with the local authority"
    return "no closure recorded: ask children's social care whether it is still open"


def _contacts(record: Record) -> str | None:
    """Whom to call about a CP-IS plan: its local authority's office-hours and out-of-hours telephones."""
    if not (record.office_hours or record.out_of_hours):
        return None
    who = record.organisation or "The local authority"
    return (
        f"{who}: office hours {record.office_hours or 'not given by CP-IS'}; "
        f"out of hours {record.out_of_hours or 'not given by CP-IS'}"
    )


def _access(access: Access) -> str:
    """One access in words: when (the unit's clock), from where, and who looked where the reader may see it."""
    who = ", ".join(w for w in (access.viewer, access.role) if w)
    where = access.organisation or "organisation not given by CP-IS"
    return f"{nhs_date(access.recorded)}: {where}{f' ({who})' if who else ''}"


def _when(record: Record) -> str:
    """The record's dates in words, to the day (the picture below has the times)."""
    start = nhs_date((record.start or record.recorded or "")[:10] or None)
    if record.current:
        return f"current, since {start}"
    end = (record.end or "")[:10]
    return f"{start} to {nhs_date(end)}" if end else f"{start}, no longer current"


def _merged(concerns: list[Concern]) -> list[Concern]:
    """Concerns saying the same thing about the same person from the same source as one, keeping every date."""
    merged: dict[tuple, Concern] = {}
    for c in concerns:
        key = (c.category, c.what, c.about, c.source, c.closure, c.restricted)
        if key in merged:
            first = merged[key]
            c = replace(first, when=first.when + c.when, current=first.current or c.current)
        merged[key] = c
    return list(merged.values())


def summarise(picture: Picture, severity: Severity, *, labels: dict[str, str], today: date) -> Summary:
    """The summary of `picture` as the reader's role may see it (pass the picture `seen_by` has redacted)."""
    roles = {p.role: p.role_label.lower() for p in picture.people}
    roles.setdefault("household", "someone in the household")

    def about(record: Record) -> str:
        role = roles.get(record.person_role, record.person_role)
        return f"{record.person_name}, {role}" if record.person_name else role

    def concern(record: Record) -> Concern:
        return Concern(
            category=record.category_label,
            what=record.display,
            about=about(record),
            when=(_when(record),),
            current=record.current,
            source=labels.get(record.source, record.source),
            closure=_closure(record, record.source),
            restricted=record.restricted,
            contacts=_contacts(record),
        )

    ranked: dict[str, list[tuple[Record, Concern]]] = {key: [] for key, _ in severity.tiers}
    summary = Summary(tiers=[])
    for record in picture.records:
        if record.category in severity.needs:
            continue
        if (record.system, record.code) in severity.administrative:
            summary.administrative.append(concern(record))
        else:
            ranked[severity.tier_of(record, today)].append((record, concern(record)))
    for key, label in severity.tiers:
        rows = sorted(ranked[key], key=lambda rc: rc[0].sort_date, reverse=True)  # newest first...
        rows.sort(key=lambda rc: not rc[0].current)  # ...current before historic (a stable sort keeps the dates)
        groups: dict[str, list[Concern]] = {}
        for _, c in rows:
            groups.setdefault(c.category, []).append(c)
        if groups:
            summary.tiers.append((key, label, [(category, _merged(cs)) for category, cs in groups.items()]))
    summary.needs = [
        f"Interpreter needed{': ' + p.language if p.language else ''} ({p.name}, {p.role_label.lower()})"
        for p in picture.people
        if p.interpreter_required
    ]
    unchecked_sources = {s.name for s in picture.not_checked if s.status != "partial"}
    mentioned: set[str] = set()
    for person in picture.people:
        reasons: dict[str, list[str]] = {}  # why -> the sources, in order
        for name, check in person.checks.items():
            if check.status in UNCHECKED_PERSON and name not in unchecked_sources:
                reasons.setdefault(check.reason or check.detail, []).append(labels.get(name, name))
                mentioned.add(name)
        if reasons:
            where = "; ".join(
                f"{', '.join(sources)} ({why})" if why else ", ".join(sources) for why, sources in reasons.items()
            )
            summary.people_not_checked.append(f"{person.name}, {person.role_label.lower()}: not checked in {where}")
    # a partly checked source is said once, by the people it could not check, unless it names none of them
    summary.sources_not_checked = [
        f"{labels.get(s.name, s.name)}: {s.detail}"
        for s in picture.not_checked
        if s.status != "partial" or s.name not in mentioned
    ]
    for history in picture.access_history:
        whose = f"{history.person_name}, {roles.get(history.person_role, history.person_role)}"
        if not history.checked:  # never "no other accesses": it could not be read
            summary.sources_not_checked.append(
                f"{labels.get(history.source, history.source)} access history ({whose}): not checked: {history.error}"
            )
            continue
        summary.access_history.append(
            AccessSeen(
                about=whose,
                accesses=tuple(_access(a) for a in history.accesses),
                settings=len(history.settings),
                left_out=len(history.problems),
            )
        )
    return summary


def summary_for(wiring: Wiring, picture: Picture) -> Summary:
    """The summary every page about a baby shows (templates/_summary.html), of a picture already `seen_by` its
    reader, with this deployment's severity rules, source names and the unit's date today."""
    today = wiring.clock().astimezone(LONDON).date()  # the unit's date: at 23:30 UTC in summer it is tomorrow
    return summarise(picture, wiring.severity, labels=wiring.mappings.source_labels, today=today)
