"""CP-IS in the picture: its CareTeams about the baby and the mother, as records with the same statuses as any source.

CP-IS is user-restricted: it is asked only with the signed-in clinician's NHS CIS2 token. A picture gathered with
none (a demo user, the watch job, a background pass) reads CP-IS as *not checked: needs the clinician's NHS Care
Identity sign-in*, never "none found". CP-IS holds children's plans, and the unborn child's plan on the mother's
NHS number, so it is asked about the baby and the mother only; it holds no Patient to compare, so its answer is
matched by NHS number (each CareTeam's own subject must carry the number asked about, or it is left out). Where it
holds a plan for the person, their access history is asked for next (cpis_access.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.sources import CpisRequest, FhirClient, care_teams, new_cpis_request

from .checks import Answer
from .classify import UNCATEGORISED, _values
from .cpis_access import ask_access_history
from .mappings import Mappings
from .models import Person, Record
from .national import NEEDS_SIGN_IN, ask_national, classified_about, not_signed_in

__all__ = ["CPIS_ROLES", "NEEDS_SIGN_IN", "CpisAccess", "ask_cpis"]

CPIS_ROLES = ("baby", "mother")


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
    if access is None or not access.token:
        return not_signed_in()
    if mappings.cpis is None:
        return Answer(by_number=True, error="misconfigured: the mappings folder has no cpis.toml to read CP-IS with")
    token, request = access.token, new_cpis_request(unscheduled=access.unscheduled)
    access.sent.append((person.role, request))
    answer = await ask_national(
        client,
        "CareTeam",
        lambda: care_teams(client, person.nhs_number or "", token=token, request=request),
        lambda found: _read(found, client.source.name, person, mappings, now),
    )
    rules = mappings.cpis.access
    if answer.error is None and answer.records and rules is not None:  # a plan: CP-IS keeps an access history
        # the same access as the CareTeam request: sent as scheduled, so CP-IS does not record it a second time
        history = new_cpis_request(unscheduled=False, resource="AuditEvent")
        access.sent.append((person.role, history))
        answer.history = await ask_access_history(client, person, token=token, request=history, rules=rules)
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
    kept, problems = classified_about(
        found,
        resource_type="CareTeam",
        about=lambda resource: _subject_numbers(resource) == {person.nhs_number},
        rule=rules.care_team,
        mappings=mappings,
        source=source,
        person=person,
        now=now,
    )
    for resource, record in kept:
        if record.category == UNCATEGORISED:
            record.category_label = "CP-IS record of a type NeoSafe does not know"
            record.display = f"CP-IS plan of an unrecognised type ({record.code or 'no code'}): ask the local authority"
        record.office_hours = _phones(resource, rules.office_hours)
        record.out_of_hours = _phones(resource, rules.out_of_hours)
    return [record for _, record in kept], problems
