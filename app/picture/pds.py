"""PDS in the picture: each household member's NHS number verified before the record sources are asked about them.

Where a source has profile "pds", every person with a valid NHS number is looked up on PDS (`GET Patient/<n>`, with
the clinician's NHS CIS2 token) in each round before the record sources are asked about them:

- **verified**: the Patient PDS answers with carries the number asked about, with verification status `01`, under a
  name and date of birth that agree with the household's (identity.py): the sources are asked as usual;
- **postponed**: status `08`, trace postponed, for someone under six weeks old (a newborn whose number came from the
  birth notification): still asked, the status shown ("NHS number not yet traceable: baby under six weeks");
- **unverified**: any other status or none, no Patient with that number (404), a Patient under another number, or
  one under another name or date of birth: the record sources are not asked about them (the baby, whose record
  is needed to know the family, is asked, and what they say withheld), so they read *identity not verified —
  records not checked*, never "none found";
- **not checked**: PDS down, refusing the token, answering something unreadable, or no CIS2 token at all. The record
  sources are still asked (each compares the name and date of birth it holds, as without PDS), CP-IS is not (it
  requires a PDS-verified number), and the PDS line says so, with the sources not checked.

PDS is also asked for the baby's related people (`GET Patient/<n>/RelatedPerson`): where it records a mother (MTH)
under an NHS number and the household's mother has another, the PDS line says so (partly checked: confirm who the
mother is). A restricted patient's answer is an empty Bundle, so no mother on PDS says nothing either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from app.fhir_systems import NHS_NUMBER_SYSTEM, NHS_NUMBER_VERIFICATION_EXTENSION, NHS_NUMBER_VERIFICATION_SYSTEM
from app.sources import (
    FhirClient,
    SourceError,
    SourceRejected,
    new_request_id,
    off_the_loop,
    pds_patient,
    pds_related_people,
)

from .checks import Answer
from .identity import Identity, compare, identity_of
from .models import Person, SourceStatus
from .national import NEEDS_SIGN_IN, UNREADABLE

__all__ = ["POSTPONED", "VERIFIED", "PdsAccess", "Verification", "Verifier", "status_code"]

POSTPONED = "NHS number not yet traceable: baby under six weeks"
SIX_WEEKS_DAYS = 42
VERIFIED, TRACE_POSTPONED = "01", "08"
# UK Core NHSNumberVerificationStatusEngland (the NHS Data Dictionary's NHS NUMBER STATUS INDICATOR CODE)
STATUS_DISPLAYS = {
    "01": "Number present and verified",
    "02": "Number present but not traced",
    "03": "Trace required",
    "04": "Trace attempted - No match or multiple match found",
    "05": "Trace needs to be resolved - (NHS number or patient detail conflict)",
    "06": "Trace in progress",
    "07": "Number not present and trace not required",
    "08": "Trace postponed (baby under six weeks old)",
}
ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
NOBODY = Identity(frozenset(), None)

log = logging.getLogger(__name__)

State = Literal["verified", "postponed", "unverified", "not-checked"]


@dataclass
class PdsAccess:
    """What one picture may ask a PDS source with: the clinician's CIS2 access token (None: no CIS2 sign-in);
    `sent` collects each request made (the person's role and its X-Request-ID), for the audit."""

    token: str | None = field(repr=False)
    sent: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Verification:
    """What PDS said of one NHS number: its state, why (in words), the status code and PDS's Patient (JSON)."""

    state: State
    why: str
    code: str | None = None
    patient: dict[str, Any] | None = field(default=None, repr=False)
    traced: str | None = None  # found by a PDS trace (trace.py): the words shown for it

    @classmethod
    def by_trace(cls, words: str, patient: dict[str, Any] | None) -> Verification:
        """A number PDS gave as the one exact match of a trace: verified, for this picture."""
        return cls("verified", STATUS_DISPLAYS[VERIFIED], VERIFIED, patient, words)

    @property
    def askable(self) -> bool:
        """Whether CP-IS may be asked about the number: PDS verified it (or an 08 baby under six weeks)."""
        return self.state in ("verified", "postponed")

    @property
    def words(self) -> str:
        if self.traced:
            return self.traced
        if self.state == "verified":
            return "NHS number verified on PDS"
        if self.state == "postponed":
            return f"{POSTPONED} (PDS status 08)"
        if self.state == "unverified":
            return f"NHS number not verified on PDS: {self.why}"
        return f"NHS number verification not checked: {self.why}"


def status_code(identifier: dict[str, Any]) -> str | None:
    for extension in identifier.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == NHS_NUMBER_VERIFICATION_EXTENSION:
            codings = (extension.get("valueCodeableConcept") or {}).get("coding") or []
            for coding in codings:
                if isinstance(coding, dict) and coding.get("system") == NHS_NUMBER_VERIFICATION_SYSTEM:
                    code = coding.get("code")
                    return code if isinstance(code, str) else None
    return None


def _age_days(patient: dict[str, Any], person: Person, today: date) -> int | None:
    born = identity_of(patient).birth_date or person.birth_date
    return (today - born).days if born else None


def read_verification(patient: dict[str, Any], person: Person, today: date) -> Verification:
    """PDS's answer about the person's NHS number, read: verified, postponed (08, under six weeks) or unverified."""
    if patient.get("resourceType") != "Patient":
        return Verification("not-checked", "PDS answered with something that is not a Patient")
    numbers = [
        i for i in patient.get("identifier") or [] if isinstance(i, dict) and i.get("system") == NHS_NUMBER_SYSTEM
    ]
    mine = [i for i in numbers if i.get("value") == person.nhs_number]
    if not mine:  # a superseded number answered with the record now in use, or a wrong answer: not this number
        why = "PDS answered with the record of another NHS number (the number may have been superseded; confirm it)"
        return Verification("unverified", why, patient=patient)
    code = status_code(mine[0])
    if code is None:
        return Verification("unverified", "PDS gave no verification status for the number", patient=patient)
    if code == TRACE_POSTPONED:
        age = _age_days(patient, person, today)
        if age is not None and 0 <= age < SIX_WEEKS_DAYS:
            return Verification("postponed", STATUS_DISPLAYS[code], code, patient)
        why = "PDS status 08 (trace postponed, for a baby under six weeks old), but they are not under six weeks"
        return Verification("unverified", why, code, patient)
    if code != VERIFIED:
        display = STATUS_DISPLAYS.get(code, "a status NeoSafe does not know")
        return Verification("unverified", f"PDS status {code[:8]} ({display})", code, patient)
    return Verification("verified", STATUS_DISPLAYS[code], code, patient)


def _held(patient: dict[str, Any], today: date) -> Identity:
    """Who PDS says holds the number; for a baby under six weeks, the family name and date of birth only (PDS may
    still hold a newborn as "Baby" from the birth notification, before the first name is registered)."""
    held = identity_of(patient)
    if held.birth_date is None or not 0 <= (today - held.birth_date).days < SIX_WEEKS_DAYS:
        return held
    return Identity(frozenset((family, "") for family, _ in held.names), held.birth_date)


def confirmed(verification: Verification, identity: Identity | None, today: date) -> Verification:
    """The verification, unless PDS holds the number under another name or date of birth than the household's."""
    if verification.patient is None or not verification.askable:
        return verification
    if compare(identity or NOBODY, _held(verification.patient, today)) == "mismatch":
        why = "PDS holds this NHS number under another name or date of birth (a different person; confirm the number)"
        return Verification("unverified", why, verification.code, verification.patient)
    return verification


async def ask_pds(client: FhirClient, person: Person, access: PdsAccess | None, now: datetime) -> Verification:
    """What PDS says of the person's NHS number; not checked (never a crash, never "verified") if it cannot say."""
    if access is None or not access.token:
        return Verification("not-checked", NEEDS_SIGN_IN)
    request_id = new_request_id()
    access.sent.append((person.role, request_id))
    try:
        async with asyncio.timeout(client.source.timeout_s):
            resource = await pds_patient(client, person.nhs_number or "", token=access.token, request_id=request_id)
        patient = await off_the_loop(lambda: resource.model_dump(mode="json"))
        return confirmed(read_verification(patient, person, now.date()), person.identity, now.date())
    except TimeoutError:
        return Verification("not-checked", f"PDS gave no answer within {client.source.timeout_s:g} s (timeout)")
    except SourceRejected as exc:
        if exc.status_code == 404:
            return Verification("unverified", "PDS holds no patient with this NHS number")
        return Verification("not-checked", f"PDS {exc.reason}")
    except SourceError as exc:
        return Verification("not-checked", f"PDS {exc.reason}")
    except UNREADABLE as exc:  # only the class is logged: the message may carry what PDS sent
        log.warning("source %s answered in a shape NeoSafe could not read (%s)", client.source.name, type(exc).__name__)
        return Verification("not-checked", "PDS answered in a shape NeoSafe could not read")


def _mothers(related: list[dict[str, Any]]) -> list[str]:
    """The NHS numbers of the RelatedPersons PDS gives as mother (v3 RoleCode MTH)."""
    numbers = []
    for resource in related:
        codes = {
            (c.get("system"), c.get("code"))
            for r in resource.get("relationship") or []
            for c in (r.get("coding") or [] if isinstance(r, dict) else [])
            if isinstance(c, dict)
        }
        identifier = (resource.get("patient") or {}).get("identifier") or {}
        if (ROLE_CODES, "MTH") in codes and identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            numbers.append(str(identifier["value"]))
    return list(dict.fromkeys(numbers))


async def ask_mothers(client: FhirClient, baby: Person, access: PdsAccess | None) -> tuple[list[str] | None, str]:
    """The mothers PDS records for the baby, by NHS number ([] for none, or a restricted record); None and why if
    PDS could not say."""
    if access is None or not access.token:
        return None, NEEDS_SIGN_IN
    request_id = new_request_id()
    access.sent.append(("baby (related people)", request_id))
    try:
        async with asyncio.timeout(client.source.timeout_s):
            result = await pds_related_people(client, baby.nhs_number or "", token=access.token, request_id=request_id)
        found = await off_the_loop(lambda: [r.model_dump(mode="json") for r in result.resources])
        return _mothers([r for r in found if r.get("resourceType") == "RelatedPerson"]), ""
    except TimeoutError:
        return None, f"no answer within {client.source.timeout_s:g} s (timeout)"
    except SourceError as exc:
        return None, exc.reason
    except UNREADABLE as exc:
        log.warning("source %s answered in a shape NeoSafe could not read (%s)", client.source.name, type(exc).__name__)
        return None, "answered in a shape NeoSafe could not read"


async def _given(answer: Answer) -> Answer:
    return answer


def _withhold(answer: Answer, why: str, *, keep_household: bool) -> None:
    """Nothing from the answer is attributed to the person; the unit's own record keeps the baby's stay, tasks and
    household (each member verified on PDS in their own right)."""
    answer.not_verified = why
    answer.records.clear()
    answer.problems.clear()
    answer.history = None  # a CP-IS access history under a number PDS does not verify is not theirs either
    if not keep_household:
        answer.withhold("unverified")
        answer.patients.clear()
        answer.verdict = None


class Verifier:
    """The picture's PDS checks: `verify` a round's people, `gated` each record source's job about them, `confirm`
    the baby once the unit's record says who they are, and `statuses`/`finish` for the page. With no pds source,
    every method leaves the picture as it was."""

    def __init__(
        self, clients: Mapping[str, FhirClient], access: Mapping[str, PdsAccess] | None, *, baby: str, now: datetime
    ) -> None:
        self.name, self.client = next(iter(clients.items()), (None, None))
        self.access = (access or {}).get(self.name or "")
        self.baby = baby
        self.now = now
        self.found: dict[str, Verification] = {}  # NHS number -> what PDS said
        self.mothers: tuple[list[str] | None, str] = (None, "not asked")  # the baby's mothers on PDS, or why not

    async def verify(self, people: list[Person]) -> None:
        """Ask PDS about each person with a valid NHS number not asked about yet (all at once)."""
        if self.client is None:
            return
        todo = [p for p in people if p.askable and p.nhs_number not in self.found]
        asked = [ask_pds(self.client, p, self.access, self.now) for p in todo]
        babies = [p for p in todo if p.nhs_number == self.baby]  # the first round: the baby's mother on PDS too
        mothers = [ask_mothers(self.client, p, self.access) for p in babies]
        answers = await asyncio.gather(*asked, *mothers)
        self.found.update({p.nhs_number or "": v for p, v in zip(todo, answers[: len(todo)], strict=True)})
        if mothers:
            self.mothers = answers[-1]

    def gated(self, person: Person, profile: str, job: Coroutine[Any, Any, Answer]) -> Coroutine[Any, Any, Answer]:
        """The source's job about the person, or (not asked: the job closed unstarted) why it is not asked."""
        verification = self.found.get(person.nhs_number or "")
        if verification is None:
            return job
        if profile == "cpis" and verification.state == "not-checked":
            job.close()
            why = f"the NHS number could not be verified on PDS ({verification.why}); CP-IS is asked only about a "
            return _given(Answer(by_number=True, unchecked=why + "PDS-verified number"))
        if verification.state == "unverified" and (profile == "cpis" or person.nhs_number != self.baby):
            job.close()
            return _given(Answer(not_verified=verification.words))
        return job

    def confirm(self, baby: Person, results: Mapping[tuple[str, str], Answer], reference: str | None) -> None:
        """Once the unit's record names the baby: PDS's Patient compared with them, and if PDS does not verify the
        baby's number, what every source said under it withheld (the unit's record keeps the stay and household)."""
        verification = self.found.get(self.baby)
        if verification is None:
            return
        verification = self.found[self.baby] = confirmed(verification, baby.identity, self.now.date())
        if verification.state != "unverified":
            return
        for (name, number), answer in results.items():
            if number == self.baby and not answer.not_verified:
                _withhold(answer, verification.words, keep_household=name == reference)

    def finish(self, everyone: list[Person]) -> None:
        """Each person's NHS number status, in words, as PDS said it."""
        for person in everyone:
            if person.not_traced:
                person.nhs_number_status, person.nhs_number_verified = f"No NHS number: {person.not_traced}", False
            verification = self.found.get(person.nhs_number or "")
            if verification is not None:
                person.nhs_number_status = verification.words
                person.nhs_number_verified = None if verification.state == "not-checked" else verification.askable

    def statuses(self, everyone: list[Person]) -> list[SourceStatus]:
        """The PDS line among the sources: not checked (and why, and what that means), partly (someone not
        verified), or every NHS number verified; none with no pds source."""
        if self.client is None or self.name is None:
            return []
        asked = [(p, self.found[p.nhs_number]) for p in everyone if p.nhs_number in self.found]
        traces = [f"{p.role_label.lower()}: {v.traced}" for p, v in asked if v.traced] + [
            f"{p.role_label.lower()} {p.not_traced}: their records were not checked" for p in everyone if p.not_traced
        ]
        untraced = any(p.not_traced for p in everyone)
        unchecked = [(p, v) for p, v in asked if v.state == "not-checked"]
        unverified = [(p, v) for p, v in asked if v.state == "unverified"]
        if not asked:
            nobody = "not checked: nobody with a valid NHS number to verify"
            return [SourceStatus(self.name, "unavailable", nobody, None)]
        if unchecked:
            who = ", ".join(dict.fromkeys(p.role_label.lower() for p, _ in unchecked))
            detail = (
                f"not checked: {unchecked[0][1].why}; NHS numbers not verified for {who}: the record sources were "
                "still asked about them (each compares the name and date of birth it holds), CP-IS was not"
            )
            everyone_unchecked = len(unchecked) == len(asked)
            status = "unavailable" if everyone_unchecked else "partial"
            return [SourceStatus(self.name, status, "; ".join([detail, *traces]), None)]
        mother = self._mother_note(everyone)
        if unverified:
            lines = [f"{p.role_label.lower()} ({v.why})" for p, v in unverified]
            detail = f"NHS number not verified for {'; '.join(lines)}: their records were not checked"
            return [SourceStatus(self.name, "partial", "; ".join([detail, *mother, *traces]), self.now)]
        who = ", ".join(dict.fromkeys(p.role_label.lower() for p, v in asked if v.state == "verified" and not v.traced))
        postponed = [p.role_label.lower() for p, v in asked if v.state == "postponed"]
        detail = "; ".join(
            [f"NHS numbers verified for {who}"] * bool(who) + [f"{w}: {POSTPONED} (PDS status 08)" for w in postponed]
        )
        status = "partial" if mother or untraced else "none-found"
        return [SourceStatus(self.name, status, "; ".join([d for d in (detail, *mother, *traces) if d]), self.now)]

    def _mother_note(self, everyone: list[Person]) -> list[str]:
        """What to say if PDS records the baby's mother under another NHS number than the household's (or none)."""
        mothers, _ = self.mothers
        household = {p.nhs_number for p in everyone if p.role == "mother" and p.nhs_number}
        if not mothers or set(mothers) & household:
            return []
        if household:
            return ["PDS records the baby's mother under another NHS number than the household's: confirm who she is"]
        return ["PDS records the baby's mother with an NHS number the household does not hold: ask for it"]
