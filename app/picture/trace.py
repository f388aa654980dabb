"""A PDS trace: a household member with no NHS number found on PDS by their demographics, for this picture only.

Where a pds source is configured, each person the family's records name without an NHS number (typically the father
or a male carer) is traced with the clinician's CIS2 token: `GET Patient?family=&given=&birthdate=eq<date>` (and
`gender`, `address-postalcode` where recorded), `_exact-match=true`, `_fuzzy-match=false`, `_max-results=2` (enough
to tell one match from several, and no more people's records opened than that; PDS audits every patient a search
matches). Attributing another man's records to this family is the hazard, so the number is taken only when all of
these hold, and otherwise the person's records are *not checked: not traced* (never "none found"):

- the household's record gives at least a family name, a first given name and a full date of birth (PDS's minimum
  for a non-fuzzy search is family name and date of birth; a given name is required too, so a common family name
  and a birthday cannot find a stranger); nobody without them is traced, and PDS is not called;
- PDS answers with exactly one Patient, whose `search.score` is exactly 1 (an exact match; PDS's TOO_MANY_MATCHES,
  several, none, or a lower score: not traced), not restricted (`meta.security` R) and not recorded as deceased;
- that Patient's family name, first given name and date of birth agree with the household's (identity.py), and its
  gender where both record one; its NHS number is valid, PDS verified (status 01), and not a number someone else in
  the household already has.

A traced number is shown as "NHS number <n> found by PDS trace (matched on ...)", and the record sources (and CP-IS,
where it asks about that person) are asked about it as about any verified number; it is never written back. PDS
down, refusing the token, answering something unreadable, or no CIS2 token: not traced, and said.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import nhs_number as nhs

from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.nhs_style import format_nhs_number
from app.sources import FhirClient, SourceError, new_request_id, pds_search

from .identity import Identity, _same_name, identity_of
from .models import Person
from .national import NEEDS_SIGN_IN, UNREADABLE
from .pds import VERIFIED, status_code

__all__ = ["NOT_TRACED", "REQUIRED", "Traced", "read_trace", "trace_params", "trace_person"]

NOT_TRACED = "not traced"
REQUIRED = ("family", "given", "birthdate")  # the least NeoSafe traces anyone on
WORDS = {
    "family": "family name",
    "given": "given name",
    "birthdate": "date of birth",
    "gender": "gender",
    "postcode": "postcode",
}
RESTRICTED = "R"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Traced:
    """What a trace found: the NHS number, what it matched on (in words) and PDS's Patient (JSON); or, with
    `number` None, why the person was not traced."""

    number: str | None
    why: str
    patient: dict[str, Any] | None = None

    @property
    def words(self) -> str:
        if self.number is None:
            return f"{NOT_TRACED}: {self.why}"
        return f"NHS number {format_nhs_number(self.number)} found by PDS trace (matched on {self.why})"


def trace_params(demographics: dict[str, str]) -> dict[str, str] | None:
    """The search PDS is asked, or None if the household's record gives too little to trace on."""
    if not all(demographics.get(k) for k in REQUIRED):
        return None
    params = {
        "family": demographics["family"],
        "given": demographics["given"],
        "birthdate": f"eq{demographics['birthdate']}",
        "_exact-match": "true",
        "_fuzzy-match": "false",
        "_max-results": "2",
    }
    if demographics.get("gender") in ("male", "female", "other", "unknown"):
        params["gender"] = demographics["gender"]
    if demographics.get("postcode"):
        params["address-postalcode"] = demographics["postcode"]
    return params


def _too_little(demographics: dict[str, str]) -> str:
    missing = [WORDS[k] for k in REQUIRED if not demographics.get(k)]
    return (
        f"the family's records do not give their {', '.join(missing)} (NeoSafe traces only on family name, given "
        "name and full date of birth)"
    )


def _number_of(patient: dict[str, Any]) -> tuple[str | None, str | None]:
    """The Patient's NHS number and its verification status code."""
    for identifier in patient.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == NHS_NUMBER_SYSTEM:
            value = identifier.get("value")
            return (value if isinstance(value, str) else None), status_code(identifier)
    return None, None


def _agrees(claimed: Identity, held: Identity) -> bool:
    """Both the name (family and first given, each side having both) and the full date of birth agree."""
    named = [a for a in claimed.names if a[1]]
    names = any(_same_name(a, b) and b[1] for a in named for b in held.names)
    return names and claimed.birth_date is not None and claimed.birth_date == held.birth_date


def read_trace(matches: list[tuple[dict[str, Any], Any]], person: Person, taken: set[str]) -> Traced:
    """The one exact match, checked against the household's demographics; else why not traced."""
    if not matches:
        return Traced(None, "PDS found no exact match for their name and date of birth")
    if len(matches) > 1:
        return Traced(None, "PDS found more than one person with their name and date of birth")
    (patient, score), demographics = matches[0], person.demographics
    if isinstance(score, bool) or not isinstance(score, int | float) or score != 1:
        return Traced(None, "PDS's only match was not an exact one (its score is below 1)")
    security = (patient.get("meta") or {}).get("security") or []
    if any(isinstance(s, dict) and s.get("code") == RESTRICTED for s in security):
        return Traced(None, "PDS's match is a restricted record")
    if patient.get("deceasedDateTime") or patient.get("deceasedBoolean"):
        return Traced(None, "PDS's match is recorded as deceased")
    number, status = _number_of(patient)
    if number is None or not nhs.is_valid(number):
        return Traced(None, "PDS's match has no valid NHS number")
    if status != VERIFIED:
        return Traced(None, f"PDS's match has an NHS number it has not verified (status {str(status)[:8]})")
    claimed = identity_of(
        {
            "name": [{"family": demographics["family"], "given": [demographics["given"]]}],
            "birthDate": demographics["birthdate"],
        }
    )
    if not _agrees(claimed, identity_of(patient)):
        return Traced(None, "PDS's match is under another name or date of birth than the family's records give")
    gender = demographics.get("gender")
    if gender and patient.get("gender") and gender != patient.get("gender"):
        return Traced(None, "PDS's match is recorded with another gender")
    if number in taken:
        return Traced(None, "PDS's match has the NHS number of someone else in the household")
    matched = [WORDS[k] for k in ("family", "given", "birthdate", "gender", "postcode") if k in demographics]
    if patient.get("gender") is None and "gender" in matched:
        matched.remove("gender")
    return Traced(number, ", ".join(matched), patient)


async def trace_person(
    client: FhirClient, person: Person, token: str | None, sent: list[tuple[str, str]], taken: set[str]
) -> Traced:
    """The person traced on PDS, or why not (never a crash, never a number PDS did not give as the one match)."""
    params = trace_params(person.demographics)
    if params is None:
        return Traced(None, _too_little(person.demographics))
    if not token:
        return Traced(None, f"PDS not asked: {NEEDS_SIGN_IN}")
    request_id = new_request_id()
    sent.append((f"{person.role} (trace)", request_id))
    try:
        async with asyncio.timeout(client.source.timeout_s):
            trace = await pds_search(client, params, token=token, request_id=request_id)
    except TimeoutError:
        return Traced(None, f"PDS gave no answer within {client.source.timeout_s:g} s (timeout)")
    except SourceError as exc:
        return Traced(None, f"PDS {exc.reason}")
    except UNREADABLE as exc:
        log.warning("source %s answered in a shape NeoSafe could not read (%s)", client.source.name, type(exc).__name__)
        return Traced(None, "PDS answered in a shape NeoSafe could not read")
    if trace.too_many:
        return Traced(None, "PDS found too many people with their name and date of birth")
    return read_trace(trace.matches, person, taken)
