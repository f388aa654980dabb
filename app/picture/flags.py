"""The Patient Flags API in the picture: FGM-IS, reasonable-adjustment and CP-IS flags, with the same statuses as any
source.

The API is user-restricted: it is asked only with the signed-in clinician's NHS CIS2 token. A picture gathered with
none (a demo user, the watch job, a background pass) reads it as *not checked: needs the clinician's NHS Care
Identity sign-in*, never "none found". It is asked about the baby, the mother and each sibling (FLAGS_ROLES): FGM-IS
flags are recorded on girls under 18 with a family history of FGM, so on a baby girl or her sister (and on a mother
who is herself under 18); the reasonable-adjustment flag may be on anyone, the mother's shaping how the unit talks
with her. The father and partners are not asked: an adult man holds no FGM-IS flag. It holds no Patient to compare, so
its answer is matched by NHS number: each Flag's subject must name the number asked about, or it is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.fhir_systems import NHS_NUMBER_SYSTEM, PATIENT_FLAG_CATEGORY_SYSTEM
from app.sources import FhirClient, flags, new_request_id

from .checks import Answer
from .classify import UNCATEGORISED
from .mappings import Mappings
from .models import Person, Record
from .national import ask_national, classified_about, not_signed_in

__all__ = ["FLAGS_ROLES", "FlagsAccess", "ask_flags"]

FLAGS_ROLES = ("baby", "mother", "sibling")


@dataclass
class FlagsAccess:
    """What one picture may ask the Patient Flags API with: the clinician's CIS2 access token (None: no CIS2 sign-in);
    `sent` collects each request made (the person's role, its X-Request-ID), for the audit."""

    token: str | None = field(repr=False)
    sent: list[tuple[str, str]] = field(default_factory=list)


async def ask_flags(
    client: FhirClient, person: Person, access: FlagsAccess | None, mappings: Mappings, now: datetime
) -> Answer:
    """The flags the API holds under the person's NHS number; unavailable (never a crash) if it cannot be read."""
    if access is None or not access.token:
        return not_signed_in()
    if mappings.flags is None:
        error = "misconfigured: the mappings folder has no patient-flags.toml to read the Patient Flags API with"
        return Answer(by_number=True, error=error)
    token, request_id, codes = access.token, new_request_id(), mappings.flags.codes
    access.sent.append((person.role, request_id))
    return await ask_national(
        client,
        "Flag",
        lambda: flags(client, person.nhs_number or "", token=token, request_id=request_id, codes=codes),
        lambda found: _read(found, client.source.name, person, mappings, now),
    )


def _about(resource: dict[str, Any], nhs_number: str | None) -> bool:
    """Whether the Flag's subject names the NHS number asked about: by its identifier, else as Patient/<number>."""
    subject = resource.get("subject") or {}
    identifier = subject.get("identifier") or {}
    if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
        return identifier["value"] == nhs_number
    return bool(nhs_number) and subject.get("reference") == f"Patient/{nhs_number}"


def _code_text(resource: dict[str, Any]) -> str | None:
    code = resource.get("code") or {}
    said = [code.get("text"), *(c.get("display") for c in code.get("coding") or [])]
    return next((s.strip() for s in said if isinstance(s, str) and s.strip()), None)


def _read(
    found: list[dict[str, Any]], source: str, person: Person, mappings: Mappings, now: datetime
) -> tuple[list[Record], list[str]]:
    """Each Flag about the person as a record; problems for the rest."""
    assert mappings.flags is not None
    kept, problems = classified_about(
        found,
        resource_type="Flag",
        about=lambda resource: _about(resource, person.nhs_number),
        rule=mappings.flags.flag,
        mappings=mappings,
        source=source,
        person=person,
        now=now,
    )
    for resource, record in kept:
        if record.category == UNCATEGORISED:
            record.category_label = "National flag of a type NeoSafe does not know"
        elif record.system == PATIENT_FLAG_CATEGORY_SYSTEM and (said := _code_text(resource)):
            record.display = said  # known by its category alone: the flag's own words say what it is
    return [record for _, record in kept], problems
