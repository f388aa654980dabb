"""Who is in the baby's household: people from Patients and RelatedPersons, matched by NHS number."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.fhir_systems import NHS_NUMBER_SYSTEM

from .identity import identity_of
from .mappings import Mappings
from .models import Person

__all__ = [
    "INTERPRETER_REQUIRED",
    "NHS_NUMBER_SYSTEM",
    "communication_of",
    "nhs_number_of",
    "person_from_patient",
    "person_from_related",
    "trace_demographics",
]

# The core extension UK Core's Patient profile uses (hl7.org/fhir/extensions: PatInterpreterRequired, boolean).
INTERPRETER_REQUIRED = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"


def nhs_number_of(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            return str(identifier["value"]).replace(" ", "")
    return None


def _language(entry: Any) -> str | None:
    language = entry.get("language") if isinstance(entry, dict) else None
    if not isinstance(language, dict):
        return None
    codings = [c for c in language.get("coding") or [] if isinstance(c, dict)]
    named = [language.get("text"), *(c.get("display") for c in codings), *(c.get("code") for c in codings)]
    return next((str(n) for n in named if isinstance(n, str) and n.strip()), None)


def communication_of(resource: dict[str, Any]) -> tuple[str | None, bool | None]:
    """(preferred language, else the first stated; interpreter required?) as a Patient or RelatedPerson says them.

    A communication without a language is skipped; an interpreterRequired that is not a boolean says nothing.
    """
    entries = [e for e in resource.get("communication") or [] if _language(e)]
    entries.sort(key=lambda e: e.get("preferred") is not True)
    flags = [
        e.get("valueBoolean")
        for e in resource.get("extension") or []
        if isinstance(e, dict) and e.get("url") == INTERPRETER_REQUIRED and isinstance(e.get("valueBoolean"), bool)
    ]
    return (_language(entries[0]) if entries else None), (any(flags) if flags else None)


def display_name(resource: dict[str, Any]) -> str:
    names = resource.get("name") or []
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not official:
        return "Name not recorded"
    if official.get("text"):
        return str(official["text"])
    parts = [*official.get("given", []), (official.get("family") or "").upper()]
    return " ".join(p for p in parts if p) or "Name not recorded"


def _birth_date(resource: dict[str, Any]) -> date | None:
    value = resource.get("birthDate")
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def person_from_patient(patient: dict[str, Any], *, role: str, role_label: str) -> Person:
    return Person(
        role=role,
        role_label=role_label,
        name=display_name(patient),
        nhs_number=nhs_number_of(patient),
        birth_date=_birth_date(patient),
        gender=patient.get("gender"),
        identity=identity_of(patient),
    )


def _postcode(resource: dict[str, Any]) -> str | None:
    addresses = [a for a in resource.get("address") or [] if isinstance(a, dict)]
    addresses.sort(key=lambda a: a.get("use") != "home")
    codes = [a.get("postalCode") for a in addresses]
    return next((c.strip() for c in codes if isinstance(c, str) and c.strip()), None)


def trace_demographics(resource: dict[str, Any]) -> dict[str, str]:
    """What a PDS trace could be asked by: the official (else first) name's family and first given name, a full
    date of birth, gender and postcode, each only where the record has it."""
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = name.get("given")
    born = _birth_date(resource)
    found = {
        "family": name.get("family"),
        "given": given[0] if isinstance(given, list) and given else None,
        "birthdate": born.isoformat() if born else None,
        "gender": resource.get("gender"),
        "postcode": _postcode(resource),
    }
    return {k: v.strip() for k, v in found.items() if isinstance(v, str) and v.strip()}


def person_from_related(related: dict[str, Any], *, mappings: Mappings, of_parent: bool) -> Person:
    """A household member from a RelatedPerson of the baby (or, with of_parent, of a parent or partner)."""
    codings = [
        (c.get("system"), c.get("code"))
        for concept in related.get("relationship") or []
        for c in concept.get("coding") or []
    ]
    texts = [
        c.get("display") or concept.get("text") or c.get("code")
        for concept in related.get("relationship") or []
        for c in concept.get("coding") or [{}]
    ]
    role = mappings.role_of(codings, of_parent=of_parent)
    gender = related.get("gender")
    language, interpreter = communication_of(related)
    key, label = (role.key, role.label) if role else ("other", "Other household member")
    return Person(
        role=key,
        role_label=label,
        name=display_name(related),
        nhs_number=nhs_number_of(related),
        birth_date=_birth_date(related),
        gender=gender,
        relationship=", ".join(t for t in texts if t),
        identity=identity_of(related),
        demographics={} if nhs_number_of(related) else trace_demographics(related),
        language=language,
        interpreter_required=interpreter,
        male_carer=bool(role)
        and ((role.male_carer and gender != "female") or (role.key == "carer" and gender == "male")),
    )
