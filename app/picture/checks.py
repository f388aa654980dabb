"""What each source said about each person, and so about the family. Unknown is never "none found".

A person is `none-found` on a source only where it holds a Patient or RelatedPerson for their NHS number (whose
name and date of birth agree, identity.py) and no record. A source is `none-found` only where that is so for
everyone; `not-known` where it holds nothing and does not know someone; `partial` (partly checked: a plan to
check again is needed) where anyone could not be checked there: no valid NHS number, identity mismatch or not
verified, or an answer NeoSafe could only partly read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .identity import Verdict
from .models import AccessHistory, Person, PersonCheck, Record, SourceStatus

__all__ = ["Answer", "not_connected", "person_check", "source_status", "unasked"]

MISMATCH = (
    "identity mismatch: this source holds the NHS number under another name or date of birth, so nothing from it "
    "is shown for this person; confirm the number with them"
)
UNVERIFIED = (
    "not checked: identity not verified (this source's record under the NHS number has no name or date of birth "
    "to compare), so nothing from it is shown for this person"
)

NOT_VERIFIED = "identity not verified — records not checked"


@dataclass
class Answer:
    """What one source said about one person."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    related: list[dict[str, Any]] = field(default_factory=list)
    encounters: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    gestation: list[int] = field(default_factory=list)  # days at birth, from the baby's Observations
    problems: list[str] = field(default_factory=list)
    not_held: list[str] = field(default_factory=list)
    error: str | None = None
    verdict: Verdict | None = None  # its Patients against the person the household means; None: it holds none
    # The source answers by NHS number alone, holding no Patient to compare (CP-IS): nothing held is "none found".
    by_number: bool = False
    unchecked: str | None = None  # why the source could not be asked at all, e.g. no user token for CP-IS
    # PDS did not verify the person's NHS number (why, in words): this source is not asked about them, or what it
    # said is withheld; they read "identity not verified — records not checked", never "none found"
    not_verified: str | None = None
    history: AccessHistory | None = None  # CP-IS: the person's access history, asked where it holds a plan

    def withhold(self, verdict: Verdict) -> None:
        """Not the household's person (or not known to be): nothing from this answer is attributed to anyone."""
        self.verdict = verdict
        self.history = None
        for kept in (self.records, self.related, self.encounters, self.tasks, self.gestation):
            kept.clear()


def person_check(answer: Answer, relatives: list[Verdict]) -> PersonCheck:
    """What the source said about the person it was asked about; `relatives`: how the RelatedPersons it holds under
    the person's NHS number compare with them."""
    if answer.not_verified:
        detail = f"{NOT_VERIFIED} ({answer.not_verified})"
        return PersonCheck("not-checked", detail, reason="identity not verified on PDS")
    if answer.error:
        return PersonCheck("unavailable", f"not checked: {answer.error}")
    if answer.unchecked:
        return PersonCheck("not-checked", f"not checked: {answer.unchecked}", reason=answer.unchecked)
    if answer.verdict == "mismatch" or (answer.verdict is None and "mismatch" in relatives):
        return PersonCheck("identity-mismatch", MISMATCH, reason="identity mismatch")
    if answer.verdict == "unverified":
        return PersonCheck("not-checked", UNVERIFIED, reason="identity not verified")
    count = len(answer.records)
    if answer.problems:
        return PersonCheck("partial", f"partly checked: {answer.problems[0]}", count)
    if count:
        return PersonCheck("found", f"{count} record{'s' if count != 1 else ''}", count)
    if answer.patients:
        return PersonCheck("none-found", "asked; no safeguarding records held")
    if answer.by_number:
        return PersonCheck("none-found", "asked; nothing held under this NHS number")
    if "match" in relatives:
        return PersonCheck("none-found", "known to this source as a relative; no safeguarding records held")
    if relatives:
        return PersonCheck("not-checked", UNVERIFIED, reason="identity not verified")
    return PersonCheck("not-known", "not known to this source: it holds nobody with this NHS number")


def unasked(person: Person) -> PersonCheck:
    """Why a person was not asked about: a source is never "none found" for them."""
    if person.nhs_number is None and person.not_traced:
        return PersonCheck("not-checked", f"not checked: {person.not_traced}", reason="not traced on PDS")
    if person.nhs_number is None:
        detail = "not checked: no NHS number, so this source could not be asked about them"
        return PersonCheck("not-checked", detail, reason="no NHS number")
    if not person.askable:
        detail = "not checked: the NHS number recorded is not valid (its check digit)"
        return PersonCheck("not-checked", detail, reason="NHS number not valid")
    detail = "not checked: found too far from the baby in the family's records to be asked"
    return PersonCheck("not-checked", detail, reason="not asked")


def not_connected() -> PersonCheck:
    return PersonCheck(
        "not-checked", "not checked: this source is not connected to NeoSafe here", reason="not connected"
    )


UNASKED = ("not-checked", "identity-mismatch")


def _plural(count: int) -> str:
    return f"{count} record{'s' if count != 1 else ''}"


def source_status(
    name: str, answers: list[Answer], checks: list[tuple[Person, PersonCheck]], now: datetime
) -> SourceStatus:
    """The source's status for the family, from what it said about each person."""
    errors = [a.error for a in answers if a.error]
    problems = [p for a in answers for p in a.problems]
    count = sum(len(a.records) for a in answers)
    if errors:
        return SourceStatus(name, "unavailable", errors[0], None, count)
    unasked = [a.unchecked for a in answers if a.unchecked]
    if unasked:  # never "none found": it was not asked
        return SourceStatus(name, "unavailable", f"not checked: {unasked[0]}", None, count)
    reasons: dict[str, list[str]] = {}
    for p, c in checks:
        if c.status in UNASKED:
            reasons.setdefault(c.reason, []).append(p.role_label.lower())
    unchecked = [f"not checked for {', '.join(dict.fromkeys(who))} ({why})" for why, who in reasons.items()]
    if problems or unchecked:
        found = [_plural(count)] if count else []
        return SourceStatus(name, "partial", "; ".join(dict.fromkeys([*found, *problems[:3], *unchecked])), now, count)
    not_held = f" (it holds no {', '.join(answers[0].not_held)})" if answers and answers[0].not_held else ""
    unknown = [p.role_label.lower() for p, c in checks if c.status == "not-known"]
    not_known = f"; not known to this source: {', '.join(unknown)}" if unknown else ""
    if count:
        return SourceStatus(name, "found", f"{_plural(count)}{not_held}{not_known}", now, count)
    if unknown:
        known = [p.role_label.lower() for p, c in checks if c.status == "none-found"]
        held = f"asked; no safeguarding records held for {', '.join(known)}" if known else "asked; nothing held"
        return SourceStatus(name, "not-known", f"{held}{not_held}{not_known}", now, 0)
    return SourceStatus(name, "none-found", f"asked; no safeguarding records held{not_held}", now, 0)
