"""CP-IS in the picture: its CareTeams about the baby and the mother, as records with the same statuses as any source.

CP-IS is user-restricted: it is asked only with the signed-in clinician's NHS CIS2 token. A picture gathered with
none (a demo user, the watch job, a background pass) reads CP-IS as *not checked: needs the clinician's NHS Care
Identity sign-in*, never "none found". CP-IS holds children's plans, and the unborn child's plan on the mother's
NHS number, so it is asked about the baby and the mother only; it holds no Patient to compare, so its answer is
matched by NHS number (each CareTeam's own subject must carry the number asked about, or it is left out).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.config import ConfigError
from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.sources import CpisRequest, FhirClient, SourceError, care_teams, new_cpis_request, off_the_loop

from .checks import Answer
from .classify import UNCATEGORISED, _values, classify
from .mappings import Mappings
from .models import Person, Record

__all__ = ["CPIS_ROLES", "NEEDS_SIGN_IN", "CpisAccess", "ask_cpis"]

CPIS_ROLES = ("baby", "mother")
NEEDS_SIGN_IN = "needs the clinician's NHS Care Identity sign-in"
UNREADABLE = (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError)

log = logging.getLogger(__name__)


@dataclass
class CpisAccess:
    """What one picture may ask a CP-IS source with: the clinician's CIS2 access token (None: no CIS2 sign-in) and
    the IsUnscheduledAccessEvent value for this checkpoint; `sent` collects each request made, for the audit."""

    token: str | None = field(repr=False)
    unscheduled: bool = True
    sent: list[tuple[str, CpisRequest]] = field(default_factory=list)  # (the person's role, the request)


async def ask_cpis(
    client: FhirClient, person: Person, access: CpisAccess | None, mappings: Mappings, now: datetime
) -> Answer:
    """What CP-IS holds under the person's NHS number; unavailable (never a crash) if it cannot be read."""
    answer = Answer(by_number=True)
    if access is None or not access.token:
        answer.unchecked = NEEDS_SIGN_IN
        return answer
    if mappings.cpis is None:
        answer.error = "misconfigured: the mappings folder has no cpis.toml to read CP-IS with"
        return answer
    request = new_cpis_request(unscheduled=access.unscheduled)
    access.sent.append((person.role, request))
    try:
        async with asyncio.timeout(client.source.timeout_s):
            result = await care_teams(client, person.nhs_number or "", token=access.token, request=request)
        found = await off_the_loop(lambda: [r.model_dump(mode="json") for r in result.resources])
        answer.problems.extend(f"CareTeam: {p}" for p in result.problems)
        if result.truncated:  # a later page would go without the user's token: not asked for
            answer.problems.append("CareTeam: more than one page of results; only the first read")
        records, problems = await off_the_loop(_read, found, client.source.name, person, mappings, now)
    except TimeoutError:
        answer.error = f"no answer within {client.source.timeout_s:g} s (timeout)"
    except SourceError as exc:
        answer.error = exc.reason
    except ConfigError as exc:
        answer.error = f"misconfigured: {exc}"
    except UNREADABLE as exc:  # only the class is logged: the message may carry what CP-IS sent
        log.warning("source %s answered in a shape NeoSafe could not read (%s)", client.source.name, type(exc).__name__)
        answer.error = "answered in a shape NeoSafe could not read"
    else:
        answer.records.extend(records)
        answer.problems.extend(problems)
    return answer


def _subject_numbers(resource: dict[str, Any]) -> set[str]:
    identifier = (resource.get("subject") or {}).get("identifier") or {}
    return {identifier["value"]} if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value") else set()


def _phones(resource: dict[str, Any], expression: str) -> str | None:
    numbers = [str(v) for v in _values(resource, expression) if isinstance(v, str) and v.strip()]
    return ", ".join(dict.fromkeys(numbers)) or None


def _read(
    found: list[dict[str, Any]], source: str, person: Person, mappings: Mappings, now: datetime
) -> tuple[list[Record], list[str]]:
    """Each CareTeam about the person as a record, with the local authority's contacts; problems for the rest."""
    rules = mappings.cpis
    assert rules is not None
    records: list[Record] = []
    problems: list[str] = []
    for resource in found:
        if resource.get("resourceType") != "CareTeam":
            continue  # an OperationOutcome or included resource: not a plan
        if _subject_numbers(resource) != {person.nhs_number}:
            problems.append("a CareTeam not about the NHS number asked about (or naming none); left out")
            continue
        record = classify(
            resource, rule=rules.care_team, mappings=mappings, source=source, person=person, today=now.date()
        )
        if record is None:
            continue
        if record.category == UNCATEGORISED:
            record.category_label = "CP-IS record of a type NeoSafe does not know"
            record.display = f"CP-IS plan of an unrecognised type ({record.code or 'no code'}): ask the local authority"
        record.office_hours = _phones(resource, rules.office_hours)
        record.out_of_hours = _phones(resource, rules.out_of_hours)
        records.append(record)
    return records, problems
