"""Who is in the baby's household: people from Patients and RelatedPersons, matched by NHS number."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.fhir_systems import NHS_NUMBER_SYSTEM

from .mappings import Mappings
from .models import Person

__all__ = ["NHS_NUMBER_SYSTEM", "nhs_number_of", "person_from_patient", "person_from_related"]


def nhs_number_of(resource: dict[str, Any]) -> str | None:
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            return str(identifier["value"]).replace(" ", "")
    return None


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
        return date.fromisoformat(value) if value and len(value) == 10 else None
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
    )


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
    key, label = (role.key, role.label) if role else ("other", "Other household member")
    return Person(
        role=key,
        role_label=label,
        name=display_name(related),
        nhs_number=nhs_number_of(related),
        birth_date=_birth_date(related),
        gender=gender,
        relationship=", ".join(t for t in texts if t),
        male_carer=bool(role)
        and ((role.male_carer and gender != "female") or (role.key == "carer" and gender == "male")),
    )
