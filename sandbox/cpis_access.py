"""The CP-IS sandbox's access histories: synthetic unscheduled-care accesses to the CP-IS records of family 04
(`04-active-cp`), as CP-IS's AuditEvents with each viewer's PractitionerRole, in the shape the CP-IS consumer guide
gives (AuditEvent.recorded; the PractitionerRole's practitioner, code and organization displays).

The baby (9990401004, child protection plan) was looked at from the delivery suite at birth and from a children's
emergency department; the mother (9990402000, the unborn child's plan, ended at birth) from two emergency
departments, an urgent treatment centre and maternity triage during pregnancy, and CP-IS sent one of her accesses
without a date (malformed: NeoSafe leaves it out and says so). They are kept out of time order, as an API may send
them. Every name and organisation is made up; no code is given (a Coding with a display only).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ACCESS_HISTORY", "access_entries"]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"

# NHS number -> (id, recorded or None for the malformed one, viewer, role, organisation), in no particular order
ACCESS_HISTORY: dict[str, list[tuple[str, str | None, str, str, str]]] = {
    "9990401004": [
        (
            "a04-baby-1",
            "2026-11-18T06:52:00+00:00",
            "Hannah Cole",
            "Midwife",
            "Fenmoor General Hospital Delivery Suite",
        ),
        (
            "a04-baby-2",
            "2026-11-23T21:15:00+00:00",
            "Dr Samir Okafor",
            "Paediatric Registrar",
            "Lowbridge Royal Infirmary Children's Emergency Department",
        ),
    ],
    "9990402000": [
        (
            "a04-mother-2",
            "2026-08-14T02:30:00+00:00",
            "Dr Ewan Hart",
            "Emergency Medicine Doctor",
            "Lowbridge Royal Infirmary Emergency Department",
        ),
        (
            "a04-mother-1",
            "2026-07-02T23:05:00+00:00",
            "Dr Ruth Ellery",
            "Emergency Medicine Consultant",
            "Fenmoor General Hospital Emergency Department",
        ),
        (
            "a04-mother-4",
            "2026-10-21T18:40:00+00:00",
            "Gemma Price",
            "Midwife",
            "Fenmoor General Hospital Maternity Triage",
        ),
        (
            "a04-mother-3",
            "2026-09-30T13:10:00+00:00",
            "Tom Reilly",
            "Emergency Nurse Practitioner",
            "Fenmoor Urgent Treatment Centre",
        ),
        ("a04-mother-x", None, "Dr Unknown", "Doctor", "Fenmoor General Hospital Emergency Department"),
    ],
}


def access_entries(
    nhs_number: str, rows: list[tuple[str, str | None, str, str, str]], base_url: str
) -> list[dict[str, Any]]:
    """The searchset entries for one child: each access an AuditEvent (match) beside its PractitionerRole (include)."""
    entries: list[dict[str, Any]] = []
    for key, recorded, viewer, role, organisation in rows:
        role_ref = f"PractitionerRole/{key}-viewer"
        event: dict[str, Any] = {
            "resourceType": "AuditEvent",
            "id": key,
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
            "action": "R",
            "outcome": "0",
            "agent": [{"who": {"reference": role_ref}, "requestor": True}],
            "source": {"observer": {"display": "CP-IS"}},
            "entity": [
                {"what": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}}},
                {"what": {"reference": role_ref}, "type": {"system": ROLE_CLASS, "code": "ASSIGNED"}},
            ],
        }
        if recorded is not None:
            event["recorded"] = recorded
        practitioner_role = {
            "resourceType": "PractitionerRole",
            "id": f"{key}-viewer",
            "practitioner": {"display": viewer},
            "code": [{"coding": [{"display": role}]}],
            "organization": {"display": organisation},
        }
        entries.append({"fullUrl": f"{base_url}AuditEvent/{key}", "resource": event, "search": {"mode": "match"}})
        entries.append(
            {"fullUrl": f"{base_url}{role_ref}", "resource": practitioner_role, "search": {"mode": "include"}}
        )
    return entries
