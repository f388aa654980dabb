"""A CP-IS access history in the picture: who looked at a child's CP-IS record in unscheduled care, when, and from
which organisation (a child seen at several unscheduled settings is a safeguarding signal).

It is asked about each person CP-IS holds a plan for (the baby, the mother for an unborn child's plan), right after
their CareTeam answer, with the same token and headers, but as `IsUnscheduledAccessEvent: false`: CP-IS recorded
the access when the CareTeam was asked (if unscheduled care), and this is the same access. A person with no plan
has no access history to ask for. Each access is shown, newest first, however old; one CP-IS sent undated or in a
shape NeoSafe cannot read is left out and said. CP-IS down, refusing or answering something unreadable reads
*access history not checked*, never "no other accesses", and the CareTeam answer stands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.sources import CpisRequest, FhirClient, access_events

from .classify import _values
from .mappings import AccessRules
from .models import Access, AccessHistory, Person
from .national import first_page

__all__ = ["ask_access_history", "read_accesses"]


async def ask_access_history(
    client: FhirClient, person: Person, *, token: str, request: CpisRequest, rules: AccessRules
) -> AccessHistory:
    """The person's access history from CP-IS; *not checked* with the reason (never a crash) if it cannot be read."""
    number = person.nhs_number or ""
    history = AccessHistory(source=client.source.name, person_role=person.role, person_nhs_number=number)
    accesses, problems, error = await first_page(
        client,
        "AuditEvent",
        lambda: access_events(client, number, token=token, request=request),
        lambda found: read_accesses(found, rules, number),
    )
    if error is None:
        history.accesses, history.problems = accesses or [], problems
    else:
        history.error = error
    return history


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _text(resource: dict[str, Any] | None, expression: str) -> str | None:
    if resource is None:
        return None
    values = [str(v).strip() for v in _values(resource, expression) if isinstance(v, str) and v.strip()]
    return ", ".join(dict.fromkeys(values)) or None


def _numbers(event: dict[str, Any]) -> set[str]:
    """The NHS numbers an AuditEvent's entities name (the child whose record was accessed)."""
    named = (((e or {}).get("what") or {}).get("identifier") or {} for e in event.get("entity") or [])
    return {i["value"] for i in named if i.get("system") == NHS_NUMBER_SYSTEM and i.get("value")}


def read_accesses(found: list[dict[str, Any]], rules: AccessRules, nhs_number: str) -> tuple[list[Access], list[str]]:
    """Each dated AuditEvent in the answer as an access, newest first, its viewer's PractitionerRole (an included or
    contained one) read for the organisation, viewer and role; a problem for each left out (undated, or naming
    another NHS number than `nhs_number`: not this person's history)."""
    roles = {
        f"PractitionerRole/{r['id']}": r for r in found if r.get("resourceType") == "PractitionerRole" and r.get("id")
    }
    dated: list[tuple[datetime, Access]] = []
    undated = stray = 0
    for event in (r for r in found if r.get("resourceType") == "AuditEvent"):
        if (numbers := _numbers(event)) and nhs_number not in numbers:
            stray += 1
            continue
        recorded = next(iter(_values(event, rules.recorded)), None)
        when = _instant(recorded)
        if when is None:
            undated += 1
            continue
        contained = {f"#{c['id']}": c for c in event.get("contained") or [] if isinstance(c, dict) and c.get("id")}
        references = [v for v in _values(event, rules.practitioner_role) if isinstance(v, str)]
        role = next((held for ref in references if (held := contained.get(ref) or roles.get(ref))), None)
        access = Access(
            recorded=str(recorded),
            organisation=_text(role, rules.organisation),
            viewer=_text(role, rules.viewer),
            role=_text(role, rules.role),
        )
        dated.append((when, access))
    dated.sort(key=lambda pair: pair[0], reverse=True)
    problems = [f"{undated} access(es) CP-IS sent without a date; left out: ask CP-IS"] if undated else []
    if stray:
        problems.append(f"{stray} access(es) about another NHS number; left out")
    return [access for _, access in dated], problems
