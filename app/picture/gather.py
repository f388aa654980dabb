"""Ask every source about every person in the household at once: found, none found, or not checked.

Rounds depend on earlier answers: the baby's record names the parents, the mother's record names her
partner and other children, so there are at most three rounds. Within a round every source is asked about
every person concurrently, in the fewest requests the source's CapabilityStatement allows:

1. the Patient by NHS number, bringing in (`_revinclude`) every record type it can of those fetched whole, and
   a search per other record type naming the person through a chained parameter
   (`subject:Patient.identifier=...`), all in one `batch` Bundle where the source declares `batch`, else all
   at once as separate searches (a Patient answer with more records than one answer should carry is asked
   again per type, so paging is never lost);
2. and from a source that refuses chaining, the plain way: find the Patient, then search by reference.

Record types whose codes say what they are (mappings.code_filters) are searched for by NeoSafe's code lists, so
a long stay's thousands of vital signs never cross the wire; where the source did not declare the parameter,
or the type is shown whatever its code (Flags), it is fetched whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from app.config import ConfigError
from app.sources import (
    Capabilities,
    FhirClient,
    Query,
    SearchResult,
    SourceDataError,
    SourceError,
    SourceRejected,
    off_the_loop,
)

from .checks import Answer, not_connected, person_check, source_status, unasked
from .classify import classify, open_task
from .cpis import CPIS_ROLES, CpisAccess, ask_cpis
from .flags import FLAGS_ROLES, FlagsAccess, ask_flags
from .gestation import gestation_days, settled
from .identity import Identity, Verdict, compare, identity_of
from .mappings import Mappings, RecordType
from .models import Person, Picture, Record, SourceStatus
from .pds import PdsAccess, Verification, Verifier
from .people import NHS_NUMBER_SYSTEM, communication_of, person_from_patient, person_from_related
from .trace import trace_person

__all__ = ["BabyNotFound", "gather_picture"]

MAX_ROUNDS = 3
INCLUDE_LIMIT = 200  # more records than this in one answer: ask per type instead, with paging
FAMILY_ROLES = ("baby", "mother", "father", "partner")  # whose relatives are the household too
PAGE_SIZE = "100"
TOKENS_CHARS = 2000  # the most of a code list one search carries: a longer list is split, well under URL limits
# what reading an unexpected shape raises (a list where an object was due, a missing key, nesting too deep)
UNREADABLE = (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError)
NOBODY = Identity(frozenset(), None)

log = logging.getLogger(__name__)


class BabyNotFound(LookupError):
    """No source holds a patient with this NHS number; `sources` says which could not be asked."""

    def __init__(self, nhs_number: str, sources: list[SourceStatus]) -> None:
        super().__init__(f"no patient with NHS number {nhs_number} on any source")
        self.sources = sources


@dataclass(frozen=True)
class _Search:
    """One search about a person: a record type (with its reading rule), RelatedPerson, Encounter or Task."""

    resource_type: str
    by: str  # the search parameter that names the person
    rule: RecordType | None = None
    include: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (parameter, tokens): searches joined; () = whole


def _searches(mappings: Mappings, caps: Capabilities, *, family: bool, baby: bool) -> list[_Search]:
    wanted = [
        _Search(r.resource_type, r.search, r, r.include, _filters(mappings, caps, r)) for r in mappings.record_types
    ]
    if family:
        wanted.append(_Search("RelatedPerson", "patient"))
    if baby:  # the stay, and the tasks raised for the baby (open ones hold up discharge)
        wanted += [_Search("Encounter", "subject"), _Search("Task", "patient")]
    return [s for s in wanted if caps.holds(s.resource_type)]


def _filters(mappings: Mappings, caps: Capabilities, rule: RecordType) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The code searches for this type, if the source declared every parameter they need; else () (fetch whole)."""
    filters = mappings.code_filters(rule) or ()
    if all(caps.declares_search(rule.resource_type, parameter) for parameter, _ in filters):
        return filters
    return ()


@lru_cache(maxsize=256)
def _chunks(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The tokens as comma-separated search values (any one matching), each at most about TOKENS_CHARS long.
    Remembered: the code lists are the same every picture, and so then are the strings (quoted once, see
    app.sources.client)."""
    chunks: list[list[str]] = [[]]
    size = 0  # len(",".join(chunks[-1])) + 1
    for token in tokens:
        if chunks[-1] and size + len(token) > TOKENS_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(token)
        size += len(token) + 1
    return tuple(",".join(chunk) for chunk in chunks)


def _queries(search: _Search, person_param: dict[str, str]) -> list[Query]:
    """The searches that together find `search`'s resources about the person: one, or one per code list chunk."""
    params: dict[str, Any] = {**person_param, "_count": PAGE_SIZE}
    if search.include:
        params["_include"] = list(search.include)
    if not search.filters:
        return [(search.resource_type, params)]
    return [
        (search.resource_type, {**params, parameter: chunk})
        for parameter, tokens in search.filters
        for chunk in _chunks(tokens)
    ]


def _as_json(resources: list) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in resources]


async def _identified(resources: list, answer: Answer, asked: str) -> list[dict[str, Any]]:
    """The resources as JSON (seconds of CPU for a large answer: off the loop); a Patient without an id cannot be
    asked about further, so it is a problem, left out."""
    found = await off_the_loop(_as_json, resources, inline=not resources)
    if any(r["resourceType"] == "Patient" and not r.get("id") for r in found):
        answer.problems.append(f"{asked}: a Patient without an id; left out")
    return [r for r in found if r["resourceType"] != "Patient" or r.get("id")]


async def _together(*searches: Any) -> list:
    """asyncio.gather, except that one search failing cancels the rest: none goes on asking a closed client."""
    tasks = [asyncio.ensure_future(s) for s in searches]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _fetch(client: FhirClient, caps: Capabilities, queries: list[Query]) -> list[SearchResult]:
    """Every query answered, paged to the end: in one batch where the source takes one, else all at once. A failed
    search (or batch entry) raises its SourceError, so a record type not read is never a type with nothing in it."""
    if caps.batch and len(queries) > 1:
        try:
            answers = await client.batch(queries)
        except SourceRejected:
            caps.batch = False  # this server will not take a batch: separate searches from now on
        except SourceDataError:
            pass  # too large (or unreadable) as one answer: asked again search by search, each page capped
        else:
            for answer in answers:
                if isinstance(answer, SourceError):
                    raise answer
            return [a for a in answers if isinstance(a, SearchResult)]
    return list(await _together(*(client.search(kind, params) for kind, params in queries)))


async def _matches(
    search: _Search, results: list[SearchResult], answer: Answer
) -> tuple[_Search, list[dict], dict[str, dict]]:
    """`search`'s results joined (each resource once): the matches, and what _include brought in keyed Type/id."""
    resources = [r for result in results for r in result.resources]
    for result in results:
        answer.problems.extend(f"{search.resource_type}: {p}" for p in result.problems)
    if any(result.truncated for result in results):
        answer.problems.append(f"{search.resource_type}: more results than NeoSafe reads; some not shown")
    found = await _identified(resources, answer, search.resource_type)
    unique = list({f"{r['resourceType']}/{r.get('id')}": r for r in found if r.get("id")}.values())
    unique += [r for r in found if not r.get("id")]
    matches = [r for r in unique if r["resourceType"] == search.resource_type]
    included = {f"{r['resourceType']}/{r.get('id')}": r for r in unique if r["resourceType"] != search.resource_type}
    return search, matches, included


def _revincluded(caps: Capabilities, searches: list[_Search]) -> dict[str, Any] | None:
    """Parameters for the Patient search bringing these records in too, if the source can do it."""
    wanted = [f"{s.resource_type}:{s.by}" for s in searches]
    if not wanted or not caps.revincludes or not set(wanted) <= caps.revincludes:
        return None
    return {"_revinclude": wanted, "_include:iterate": [i for s in searches for i in s.include]}


async def _asked(
    client: FhirClient,
    caps: Capabilities,
    searches: list[_Search],
    identifier: str,
    answer: Answer,
    *,
    revinclude: bool,
) -> list | None:
    """Each search's matches and includes about the person; None if the Patient answer carried too many records
    to trust unpaged (then asked again without _revinclude)."""
    whole = [s for s in searches if not s.filters]
    brought = _revincluded(caps, whole) if revinclude else None
    patient_query: Query = ("Patient", {"identifier": identifier, **(brought or {})})
    per_type = [s for s in searches if brought is None or s.filters]
    if caps.chaining:
        queries = [(s, q) for s in per_type for q in _queries(s, {f"{s.by}:Patient.identifier": identifier})]
        try:
            first, *rest = await _fetch(client, caps, [patient_query, *(q for _, q in queries)])
        except SourceRejected:
            caps.chaining = False  # this server will not chain: ask it the plain way from now on
            answer.problems.clear()
        else:
            return await _joined(first, rest, queries, brought, whole, answer)
    (first,) = await _fetch(client, caps, [patient_query])
    patients = [r for r in await _identified(first.resources, Answer(), "Patient") if r["resourceType"] == "Patient"]
    queries = [(s, q) for p in patients for s in per_type for q in _queries(s, {s.by: f"Patient/{p['id']}"})]
    rest = await _fetch(client, caps, [q for _, q in queries]) if queries else []
    return await _joined(first, rest, queries, brought, whole, answer)


async def _joined(
    first: SearchResult,
    rest: list[SearchResult],
    queries: list[tuple[_Search, Query]],
    brought: dict[str, Any] | None,
    whole: list[_Search],
    answer: Answer,
) -> list | None:
    """The Patient answer (with what it brought in) and the per-type answers, as (search, matches, included)."""
    answer.problems.extend(f"Patient: {p}" for p in first.problems)
    found = await _identified(first.resources, answer, "Patient")
    if brought is not None and (len(found) > INCLUDE_LIMIT or first.truncated):
        answer.problems.clear()
        return None
    answer.patients = [r for r in found if r["resourceType"] == "Patient"]
    joined = []
    if brought is not None:
        wanted = {s.resource_type for s in whole}
        included = {f"{r['resourceType']}/{r.get('id')}": r for r in found if r["resourceType"] not in wanted}
        joined += [(s, [r for r in found if r["resourceType"] == s.resource_type], included) for s in whole]
    by_search: dict[_Search, list[SearchResult]] = defaultdict(list)
    for (search, _), result in zip(queries, rest, strict=True):
        by_search[search].append(result)
    joined += [await _matches(s, by_search[s], answer) for s in dict.fromkeys(s for s, _ in queries)]
    # what any search brought in resolves any record's reference: a Flag's author found by EpisodeOfCare's
    # _include is still its author, however the searches were split
    everything = {key: r for _, _, included in joined for key, r in included.items()}
    return [(search, matches, everything) for search, matches, _ in joined]


async def _ask(
    client: FhirClient, caps: Capabilities, person: Person, searches: list[_Search], mappings: Mappings, now: datetime
) -> Answer:
    answer = Answer(not_held=[r.resource_type for r in mappings.record_types if not caps.holds(r.resource_type)])
    identifier = f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"
    try:
        async with asyncio.timeout(client.source.timeout_s):
            results = await _asked(client, caps, searches, identifier, answer, revinclude=True)
            if results is None:
                results = await _asked(client, caps, searches, identifier, answer, revinclude=False)
    except TimeoutError:
        answer.error = f"no answer within {client.source.timeout_s:g} s (timeout)"
        return answer
    except SourceError as exc:
        answer.error = exc.reason
        return answer
    except ConfigError as exc:
        answer.error = f"misconfigured: {exc}"
        return answer
    except UNREADABLE as exc:  # the client checks the shapes it reads; this is the second line of defence
        return _unreadable(answer, client.source.name, exc)
    try:  # classifying records is CPU work too (FHIRPath, per resource): off the loop
        nothing_found = not any(matches for _, matches, _ in results)
        await off_the_loop(_read, results, answer, client.source.name, person, mappings, now, inline=nothing_found)
    except UNREADABLE as exc:
        return _unreadable(answer, client.source.name, exc)
    return answer


def _unreadable(answer: Answer, source: str, exc: Exception) -> Answer:
    """A source's answer NeoSafe could not read is that source unavailable, never the whole picture down.

    Only the error's class is logged and shown: its message may carry what the source sent (patient data).
    """
    log.warning("source %s answered in a shape NeoSafe could not read (%s)", source, type(exc).__name__)
    answer.error = "answered in a shape NeoSafe could not read"
    answer.records.clear()
    return answer


def _read(results: list, answer: Answer, source: str, person: Person, mappings: Mappings, now: datetime) -> None:
    today = now.date().isoformat()
    for search, matches, included in results:
        if search.rule is None:
            kept = {"RelatedPerson": answer.related, "Encounter": answer.encounters, "Task": answer.tasks}
            kept[search.resource_type].extend(matches)
            continue
        for resource in matches:
            if search.resource_type == "Observation" and person.role == "baby":
                days = gestation_days(resource, mappings.gestation_codes)
                if days is not None:
                    answer.gestation.append(days)
                    continue
            record = classify(
                resource,
                rule=search.rule,
                mappings=mappings,
                source=source,
                person=person,
                today=now.date(),
                included=included,
            )
            if record is None:
                continue
            answer.records.append(record)
            if record.sort_date[:10] > today:
                answer.problems.append(
                    f"{record.resource_type} dated {record.sort_date[:10]}, in the future: check it with the source"
                )


def _pick_encounter(answers: Mapping[str, Answer]) -> dict[str, Any] | None:
    """The baby's current stay: an in-progress inpatient Encounter, else the latest one."""
    found = [dict(e, _source=name) for name, a in answers.items() for e in a.encounters]
    found.sort(key=lambda e: (e.get("status") == "in-progress", (e.get("period") or {}).get("start", "")))
    return found[-1] if found else None


def _verify(answer: Answer, person: Person, *, reference: bool) -> None:
    """Withhold the answer unless the Patients it holds under the NHS number are the person the household means."""
    if answer.error or answer.by_number:  # by_number (CP-IS): matched by NHS number, each record's subject checked
        return
    if not answer.patients:  # records (by a chained search) with no Patient NeoSafe could read to compare
        if answer.records or answer.related or answer.encounters or answer.tasks:
            answer.withhold("unverified")
        return
    if reference:  # the baby as the first source to hold it has it: the identity the others are compared with
        answer.verdict = "match"
        return
    verdicts = {compare(person.identity or NOBODY, identity_of(patient)) for patient in answer.patients}
    verdict: Verdict = next((v for v in ("mismatch", "unverified") if v in verdicts), "match")
    if verdict == "match":
        answer.verdict = verdict
    else:
        answer.withhold(verdict)


def _reference(results: dict[tuple[str, str], Answer], clients: Mapping[str, FhirClient]) -> str | None:
    """The source whose baby the others are compared with: the unit's record (write-back) if it holds the baby, else
    the first in the sources file's order that does."""
    holding = [name for (name, _), a in results.items() if a.patients and not a.error]
    return next((n for n in holding if clients[n].source.write_back), holding[0] if holding else None)


def _attribute(records: list[Record], everyone: list[Person]) -> None:
    """Records whose code says whom they are about (categories.toml `about`) go to that person, held on the other's."""
    for record in records:
        if record.about is None:
            continue
        record.held_by = f"{record.person_name} ({record.person_role})"
        matches = [p for p in everyone if p.role == record.about]
        if len(matches) == 1:
            about = matches[0]
            record.person_role, record.person_nhs_number, record.person_name = about.role, about.nhs_number, about.name
        else:
            record.person_role, record.person_nhs_number = record.about, None
            record.person_name = (
                "Someone in the household (not said who)"
                if record.about == "household"
                else f"The baby's {record.about} (not identified)"
            )


def _communication(person: Person, answers: list[Answer]) -> None:
    """Language and interpreter need from every source's Patient for the person (a true need from any counts)."""
    stated = [communication_of(p) for a in answers for p in a.patients]
    languages = [language for language, _ in stated if language]
    needs = [need for _, need in stated if need is not None]
    person.language = person.language or (languages[0] if languages else None)
    if needs or person.interpreter_required is not None:
        person.interpreter_required = any(needs) or bool(person.interpreter_required)


async def _traced(verifier: Verifier, fresh: list[Person], people: dict[str, Person]) -> list[Person]:
    """Trace on PDS each person just found without an NHS number (trace.py); those traced, with their number.
    Two people given the same number by their traces are neither traced."""
    if verifier.client is None or not fresh:
        return []
    access = verifier.access
    token, sent = (access.token, access.sent) if access is not None else (None, [])
    taken = set(people)
    found = await asyncio.gather(*(trace_person(verifier.client, p, token, sent, taken) for p in fresh))
    numbers = [t.number for t in found if t.number]
    traced = []
    for person, trace in zip(fresh, found, strict=True):
        if trace.number is None or numbers.count(trace.number) > 1:
            why = trace.words if trace.number is None else "not traced: PDS gave two people the same NHS number"
            person.not_traced = why
            continue
        person.nhs_number, person.traced = trace.number, True
        verifier.found[trace.number] = Verification.by_trace(trace.words, trace.patient)
        people[trace.number] = person
        traced.append(person)
    return traced


# Whom each national API (a profile other than "fhir") is asked about, by role.
_NATIONAL_ROLES = {"cpis": CPIS_ROLES, "patient-flags": FLAGS_ROLES}


async def gather_picture(
    *,
    nhs_number: str,
    clients: Mapping[str, FhirClient],
    mappings: Mappings,
    now: datetime,
    capabilities: Mapping[str, Capabilities] | None = None,
    cpis: Mapping[str, CpisAccess] | None = None,
    flags: Mapping[str, FlagsAccess] | None = None,
    pds: Mapping[str, PdsAccess] | None = None,
) -> Picture:
    """Ask every source about the baby and household; raise BabyNotFound if no source knows the baby.

    `capabilities` (by source name) are kept by the caller between pictures; a source missing from it is
    asked as if it could do everything. `cpis` (by source name): what each CP-IS source (profile "cpis") may be
    asked with, the clinician's token among it; a CP-IS source missing from it is not checked (no user token).
    `flags` (by source name) likewise for each Patient Flags API source (profile "patient-flags").
    `pds` (by source name), likewise for a PDS source (profile "pds"): each round's people are verified on it
    before the record sources are asked about them (pds.py says what follows from each answer).
    """
    verifier = Verifier({n: c for n, c in clients.items() if c.source.profile == "pds"}, pds, baby=nhs_number, now=now)
    clients = {n: c for n, c in clients.items() if c.source.profile != "pds"}
    caps = {name: (capabilities or {}).get(name) or Capabilities() for name in clients}
    probe = Person(role="baby", role_label="Baby", name="", nhs_number=nhs_number)
    people: dict[str, Person] = {nhs_number: probe}
    unnumbered: list[Person] = []
    asked: dict[tuple[str, str], Answer] = {}
    relatives: dict[tuple[str, str], list[Verdict]] = defaultdict(list)  # (source, NHS number): its RelatedPersons
    frontier = [probe]
    baby_patient: dict[str, Any] | None = None
    for round_number in range(MAX_ROUNDS + 1):  # one more round for those traced in the last
        if not frontier:
            break
        await verifier.verify(frontier)
        jobs = {
            (name, person.nhs_number): _ask(
                client,
                caps[name],
                person,
                _searches(mappings, caps[name], family=person.role in FAMILY_ROLES, baby=round_number == 0),
                mappings,
                now,
            )
            if client.source.profile == "fhir"
            else ask_flags(client, person, (flags or {}).get(name), mappings, now)
            if client.source.profile == "patient-flags"
            else ask_cpis(client, person, (cpis or {}).get(name), mappings, now)
            for name, client in clients.items()
            for person in frontier
            if client.source.profile == "fhir" or person.role in _NATIONAL_ROLES.get(client.source.profile, ())
        }
        jobs = {key: verifier.gated(people[key[1]], clients[key[0]].source.profile, job) for key, job in jobs.items()}
        results = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
        reference = _reference(results, clients) if round_number == 0 else None
        if reference is not None:
            baby_patient = results[(reference, nhs_number)].patients[0]
            probe.identity = identity_of(baby_patient)
            verifier.confirm(probe, results, reference)
        new: list[Person] = []
        fresh: list[Person] = []  # found without an NHS number this round: traced on PDS where it is configured
        for (name, number), answer in results.items():
            person = people[number]
            _verify(answer, person, reference=name == reference)
            asked[(name, number)] = answer
            if answer.verdict == "match" and answer.patients[0].get("id"):
                person.found_on[name] = answer.patients[0]["id"]
            for related in answer.related:
                member = person_from_related(related, mappings=mappings, of_parent=person.role != "baby")
                if member.nhs_number is None:
                    if all(member.name != u.name for u in unnumbered):
                        unnumbered.append(member)
                        fresh.append(member)
                    continue
                known = people.setdefault(member.nhs_number, member)
                verdict = compare(known.identity or NOBODY, member.identity or NOBODY)
                relatives[(name, member.nhs_number)].append(verdict)
                if known is member and member.askable:
                    new.append(member)
        traced = await _traced(verifier, fresh, people) if round_number < MAX_ROUNDS else []
        unnumbered = [u for u in unnumbered if all(u is not t for t in traced)]
        frontier = new + traced if round_number + 1 < MAX_ROUNDS else traced

    baby_answers = {name: a for (name, number), a in asked.items() if number == nhs_number}
    baby = probe
    if baby_patient is not None:
        baby = person_from_patient(baby_patient, role="baby", role_label="Baby")
        baby.found_on, baby.identity = probe.found_on, probe.identity
    everyone = [baby, *(p for p in people.values() if p is not probe), *unnumbered]
    for person in everyone:
        number = nhs_number if person is baby else person.nhs_number
        for name, client in clients.items():
            national = client.source.profile != "fhir"
            if national and person is not baby and person.role not in _NATIONAL_ROLES.get(client.source.profile, ()):
                continue  # CP-IS: the baby and the mother only; flags: and siblings (the source line says so)
            answer = asked.get((name, number)) if person.askable or person is baby else None
            person.checks[name] = unasked(person) if answer is None else person_check(answer, relatives[(name, number)])
        person.checks.update({name: not_connected() for name in mappings.expected_sources if name not in clients})
        _communication(person, [a for (_, n), a in asked.items() if n == number and a.verdict == "match"])
    by_source = defaultdict(list)
    for (name, _), answer in asked.items():
        by_source[name].append(answer)
    statuses = [
        source_status(name, by_source[name], [(p, p.checks[name]) for p in everyone if name in p.checks], now)
        for name in clients
    ]
    for status in statuses:
        if clients[status.name].source.profile == "cpis" and status.checked:
            status.detail += " (CP-IS asked about the baby and the mother)"
        if clients[status.name].source.profile == "patient-flags" and status.checked:
            status.detail += " (asked about the baby, the mother and each sibling)"
    verifier.finish(everyone)
    statuses += verifier.statuses(everyone)
    statuses += [
        SourceStatus(name, "not-configured", "not connected to NeoSafe here: not checked", None)
        for name in mappings.expected_sources
        if name not in clients
    ]
    if baby_patient is None:
        raise BabyNotFound(nhs_number, statuses)
    for record in (r for a in baby_answers.values() for r in a.records):
        record.person_name = baby.name
    records = [r for name in clients for a in by_source[name] for r in a.records]
    _attribute(records, everyone)
    histories = [
        replace(history, person_name=person.name)
        for person in everyone
        for name in clients
        if (answer := asked.get((name, nhs_number if person is baby else person.nhs_number or ""))) is not None
        and (history := answer.history) is not None
    ]
    records.sort(key=lambda r: r.sort_date, reverse=True)
    return Picture(
        baby=baby,
        people=everyone,
        sources=statuses,
        records=records,
        gathered_at=now,
        encounter=_pick_encounter(baby_answers),
        open_tasks=[o for name, a in baby_answers.items() for t in a.tasks if (o := open_task(t, name))],
        baby_resource=baby_patient,
        baby_ids=dict(probe.found_on),
        gestation_days=settled([d for a in baby_answers.values() for d in a.gestation]),
        access_history=histories,
    )
