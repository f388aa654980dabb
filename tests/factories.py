"""Build (make_*) and post (create_*) synthetic FHIR data for a test of its own, beside the seeded families."""

from __future__ import annotations

import random
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

NHS = "https://fhir.nhs.uk/Id/nhs-number"
SNOMED = "http://snomed.info/sct"


FAMILIES = Path(__file__).parents[1] / "sandbox" / "families"
# the seeded families' numbers, and every number new_nhs_number has given out in this process
_ISSUED = {n for f in FAMILIES.glob("*/*.json") for n in re.findall(r"\b999\d{7}\b", f.read_text(encoding="utf-8"))}


def new_nhs_number() -> str:
    """A modulus-11 valid NHS number from the 999 test range, never a seeded family's nor one this test run
    has had before.

    The range holds about 900,000 numbers and a full run makes thousands of babies and parents in one sandbox:
    drawn at random alone, two tests would now and then share a baby, and one would find the other's records.
    """
    while True:
        digits = [9, 9, 9, *(random.randrange(10) for _ in range(6))]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        number = "".join(map(str, digits)) + str(0 if check == 11 else check)
        if check != 10 and number not in _ISSUED:
            _ISSUED.add(number)
            return number


def make_patient(resource_id: str, nhs_number: str, **overrides: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": resource_id,
        "identifier": [{"system": NHS, "value": nhs_number}],
        "name": [{"given": ["Test"], "family": "Baby"}],
        "birthDate": "2026-11-24",
        **overrides,
    }


def make_flag(subject_id: str, code: str, **overrides: Any) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": f"flag-{uuid.uuid4().hex[:12]}",
        "status": "active",
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "subject": {"reference": f"Patient/{subject_id}"},
        **overrides,
    }


def create(fhir: httpx.Client, *resources: dict[str, Any]) -> None:
    """PUT the resources in one transaction."""
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources
    ]
    fhir.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}).raise_for_status()


def create_baby(fhir: httpx.Client, *records_of_baby: str, **flag_overrides: Any) -> str:
    """A new baby on the unit's record with Flags of the given codes; returns the NHS number."""
    number = new_nhs_number()
    patient_id = f"nn-test-{number}"
    create(
        fhir, make_patient(patient_id, number), *(make_flag(patient_id, c, **flag_overrides) for c in records_of_baby)
    )
    return number


def create_family(fhir: httpx.Client, *, mother_nhs_number: bool = True) -> tuple[str, str | None]:
    """A new baby whose unit record names a mother (RelatedPerson MTH), with a fresh NHS number unless told not to;
    returns the baby's and the mother's NHS numbers."""
    baby = create_baby(fhir)
    mother = new_nhs_number() if mother_nhs_number else None
    related = {
        "resourceType": "RelatedPerson",
        "id": f"rp-{uuid.uuid4().hex[:12]}",
        "patient": {"reference": f"Patient/nn-test-{baby}"},
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]}],
        "name": [{"given": ["Test"], "family": "Mother"}],
        "birthDate": "1996-05-01",
        **({"identifier": [{"system": NHS, "value": mother}]} if mother else {}),
    }
    create(fhir, related)
    return baby, mother


def on_the_unit(neonatal: httpx.Client, admitted: datetime, *records: str) -> str:
    """A new baby on the unit (an in-progress neonatal Encounter from `admitted`), with Flags of `records`."""
    baby = create_baby(neonatal, *records)
    create(
        neonatal,
        {
            "resourceType": "Encounter",
            "id": f"nn-test-{baby}-enc",
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/nn-test-{baby}"},
            "period": {"start": admitted.isoformat(timespec="seconds")},
        },
    )
    return baby
