"""Ask every source about every person in the household at once: found, none found, or not checked.

Rounds depend on earlier answers: the baby's record names the parents, the mother's record names her
partner and other children. Within a round every source is asked about every person concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.config import ConfigError
from app.sources import FhirClient, SourceError

from .classify import classify
from .mappings import Mappings
from .models import Person, Picture, Record, SourceStatus
from .people import NHS_NUMBER_SYSTEM, person_from_patient, person_from_related

__all__ = ["BabyNotFound", "gather_picture"]

MAX_ROUNDS = 3


class BabyNotFound(LookupError):
    """No source holds a patient with this NHS number; `sources` says which could not be asked."""

    def __init__(self, nhs_number: str, sources: list[SourceStatus]) -> None:
        super().__init__(f"no patient with NHS number {nhs_number} on any source")
        self.sources = sources


@dataclass
class _Answer:
    """What one source said about one person."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    related: list[dict[str, Any]] = field(default_factory=list)
    encounters: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None


async def _search(
    client: FhirClient, resource_type: str, params: dict[str, Any], answer: _Answer
) -> tuple[list[dict], dict[str, dict]]:
    """The matches, and the resources brought in by _include keyed Type/id."""
    result = await client.search(resource_type, params)
    answer.problems.extend(f"{resource_type}: {p}" for p in result.problems)
    if result.truncated:
        answer.problems.append(f"{resource_type}: more results than NeoSafe reads; some not shown")
    found = [r.model_dump(mode="json") for r in result.resources]
    matches = [r for r in found if r["resourceType"] == resource_type]
    included = {f"{r['resourceType']}/{r.get('id')}": r for r in found if r["resourceType"] != resource_type}
    return matches, included


async def _ask(
    client: FhirClient, person: Person, *, mappings: Mappings, wants_family: bool, is_baby: bool, now: datetime
) -> _Answer:
    answer = _Answer()
    try:
        async with asyncio.timeout(client.source.timeout_s):
            identifier = f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"
            answer.patients, _ = await _search(client, "Patient", {"identifier": identifier}, answer)
            for patient in answer.patients:
                await _ask_about_patient(client, patient["id"], person, answer, mappings, wants_family, is_baby, now)
    except TimeoutError:
        answer.error = f"no answer within {client.source.timeout_s:g} s (timeout)"
    except SourceError as exc:
        answer.error = exc.reason
    except ConfigError as exc:
        answer.error = f"misconfigured: {exc}"
    return answer


async def _ask_about_patient(
    client: FhirClient,
    patient_id: str,
    person: Person,
    answer: _Answer,
    mappings: Mappings,
    wants_family: bool,
    is_baby: bool,
    now: datetime,
) -> None:
    reference = f"Patient/{patient_id}"
    searches = [
        _search(client, rule.resource_type, {rule.search: reference, "_include": list(rule.include)}, answer)
        for rule in mappings.record_types
    ]
    extra = []
    if wants_family:
        extra.append(_search(client, "RelatedPerson", {"patient": reference}, answer))
    if is_baby:
        extra.append(_search(client, "Encounter", {"subject": reference}, answer))
    results = await asyncio.gather(*searches, *extra)
    for rule, (resources, included) in zip(mappings.record_types, results, strict=False):
        for resource in resources:
            record = classify(
                resource,
                rule=rule,
                mappings=mappings,
                source=client.source.name,
                person=person,
                today=now.date(),
                included=included,
            )
            if record is not None:
                answer.records.append(record)
    tail = [matches for matches, _ in results[len(mappings.record_types) :]]
    if wants_family:
        answer.related.extend(tail.pop(0))
    if is_baby:
        answer.encounters.extend(tail.pop(0))


def _status(name: str, answers: list[_Answer], now: datetime) -> SourceStatus:
    errors = [a.error for a in answers if a.error]
    problems = [p for a in answers for p in a.problems]
    count = sum(len(a.records) for a in answers)
    if errors:
        return SourceStatus(name, "unavailable", errors[0], None, count)
    if problems:
        return SourceStatus(name, "partial", "; ".join(problems[:3]), now, count)
    if count:
        return SourceStatus(name, "found", f"{count} record{'s' if count != 1 else ''}", now, count)
    return SourceStatus(name, "none-found", "asked; no safeguarding records held", now, 0)


def _pick_encounter(answers: Mapping[str, _Answer]) -> dict[str, Any] | None:
    """The baby's current stay: an in-progress inpatient Encounter, else the latest one."""
    found = [dict(e, _source=name) for name, a in answers.items() for e in a.encounters]
    found.sort(key=lambda e: (e.get("status") == "in-progress", (e.get("period") or {}).get("start", "")))
    return found[-1] if found else None


async def gather_picture(
    *, nhs_number: str, clients: Mapping[str, FhirClient], mappings: Mappings, now: datetime
) -> Picture:
    """Ask every source about the baby and household; raise BabyNotFound if no source knows the baby."""
    probe = Person(role="baby", role_label="Baby", name="", nhs_number=nhs_number)
    people: dict[str, Person] = {nhs_number: probe}
    unverified: list[Person] = []
    answers: dict[str, list[_Answer]] = {name: [] for name in clients}
    frontier = [probe]
    baby_answers: dict[str, _Answer] = {}
    for round_number in range(MAX_ROUNDS):
        if not frontier:
            break
        jobs = {
            (name, person.nhs_number): _ask(
                client,
                person,
                mappings=mappings,
                wants_family=person.role in ("baby", "mother"),
                is_baby=round_number == 0,
                now=now,
            )
            for name, client in clients.items()
            for person in frontier
        }
        results = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
        new: list[Person] = []
        for (name, number), answer in results.items():
            answers[name].append(answer)
            person = people[number]
            if answer.patients:
                person.found_on[name] = answer.patients[0]["id"]
            if round_number == 0:
                baby_answers[name] = answer
            for related in answer.related:
                member = person_from_related(related, mappings=mappings, of_mother=person.role == "mother")
                if member.nhs_number is None:
                    if all(member.name != u.name for u in unverified):
                        unverified.append(member)
                elif member.nhs_number not in people:
                    people[member.nhs_number] = member
                    new.append(member)
        frontier = new

    baby_patient = next((a.patients[0] for a in baby_answers.values() if a.patients), None)
    statuses = [_status(name, answers[name], now) for name in clients]
    statuses += [
        SourceStatus(name, "not-configured", "not connected to NeoSafe here: not checked", None)
        for name in mappings.expected_sources
        if name not in clients
    ]
    if baby_patient is None:
        raise BabyNotFound(nhs_number, statuses)
    baby = person_from_patient(baby_patient, role="baby", role_label="Baby")
    baby.found_on = probe.found_on
    for record in (r for a in baby_answers.values() for r in a.records):
        record.person_name = baby.name
    household = [p for p in people.values() if p is not probe]
    records = [r for name in clients for a in answers[name] for r in a.records]
    records.sort(key=lambda r: r.sort_date, reverse=True)
    return Picture(
        baby=baby,
        people=[baby, *household, *unverified],
        sources=statuses,
        records=records,
        gathered_at=now,
        encounter=_pick_encounter(baby_answers),
        baby_resource=baby_patient,
        baby_ids=dict(probe.found_on),
    )
