"""The safeguarding picture of one baby: people, what each source said, and every record found."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import nhs_number

from .identity import Identity

__all__ = [
    "Access",
    "AccessHistory",
    "CheckStatus",
    "OpenTask",
    "Person",
    "PersonCheck",
    "Picture",
    "Record",
    "SourceStatus",
    "Status",
]

# `not-known`: asked, nothing held, and at least one person is not known to the source at all (so not "none found").
Status = Literal["found", "none-found", "not-known", "partial", "unavailable", "not-configured"]
NOT_CHECKED: frozenset[str] = frozenset({"partial", "unavailable", "not-configured"})
# What one source said about one person. `none-found` only where the source holds a Patient or RelatedPerson for
# that NHS number; `not-checked`: never asked (no valid NHS number, not connected) or its record's identity could
# not be confirmed; `identity-mismatch`: it holds that number under another name or date of birth.
CheckStatus = Literal["found", "none-found", "not-known", "not-checked", "identity-mismatch", "partial", "unavailable"]
UNCHECKED_PERSON: frozenset[str] = frozenset({"not-checked", "identity-mismatch", "partial", "unavailable"})


@dataclass(frozen=True)
class PersonCheck:
    """What one source said about one person, in words a clinician reads."""

    status: CheckStatus
    detail: str
    records: int = 0
    reason: str = ""  # a few words, for the source's line: "no NHS number", "identity mismatch"


@dataclass
class Person:
    """Someone in the baby's household. Without an NHS number nobody could check their records."""

    role: str
    role_label: str
    name: str
    nhs_number: str | None
    birth_date: date | None = None
    gender: str | None = None
    relationship: str = ""
    male_carer: bool = False
    found_on: dict[str, str] = field(default_factory=dict)  # source name -> that source's Patient id
    checks: dict[str, PersonCheck] = field(default_factory=dict)  # source name -> what it said about this person
    language: str | None = None  # the preferred (else first) language a source records
    interpreter_required: bool | None = None  # None: no source says
    identity: Identity | None = field(default=None, repr=False, compare=False)  # as the household names them
    # Where a PDS source is configured: what PDS said of the NHS number, in words ("verified on PDS"), and whether it
    # verified it (True; an 08 baby under six weeks too), did not (False: records not checked), or was not asked or
    # could not answer (None).
    nhs_number_status: str | None = None
    nhs_number_verified: bool | None = None
    # Someone with no NHS number, as the household's record gives them to trace on PDS (family, given, birthdate,
    # gender, postcode: each only where recorded), and, where a PDS source is configured, why they were not traced
    # (None: traced, or no PDS). A number found by a trace is this picture's only (trace.py).
    demographics: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    not_traced: str | None = None
    traced: bool = False  # their NHS number came from a PDS trace with the clinician's own token, for this picture

    @property
    def askable(self) -> bool:
        """Whether sources can be asked about them: a valid NHS number (a mistyped one would find someone else)."""
        return self.nhs_number is not None and nhs_number.is_valid(self.nhs_number)

    @property
    def verified(self) -> bool:
        """A valid NHS number that no source holds under another name or date of birth, and PDS (if asked) verified."""
        return (
            self.askable
            and self.nhs_number_verified is not False
            and not any(c.status == "identity-mismatch" for c in self.checks.values())
        )


@dataclass
class SourceStatus:
    """What one source said. `none-found` means asked and nothing held, never "no concerns"."""

    name: str
    status: Status
    detail: str
    checked_at: datetime | None
    records: int = 0

    @property
    def checked(self) -> bool:
        return self.status not in NOT_CHECKED


@dataclass
class Record:
    """One safeguarding record, current or historic, as a source holds it."""

    key: str  # source/Type/id: stable within a source
    category: str
    category_label: str
    risk: bool
    code: str
    system: str
    display: str
    current: bool
    status: str
    resource_type: str
    source: str
    person_nhs_number: str | None
    person_role: str
    person_name: str
    start: str | None = None
    end: str | None = None
    recorded: str | None = None
    organisation: str | None = None
    contact: str | None = None
    restricted: bool = False
    category_rank: int = 0
    about: str | None = None  # the household role the code says it is about ("Alcohol abuse by father")
    held_by: str | None = None  # whose record holds it, when that is not whom it is about
    change: str | None = None  # new | changed | ended, since the previous checkpoint (see changes.py)
    office_hours: str | None = None  # a CP-IS plan: the responsible local authority's office-hours telephone
    out_of_hours: str | None = None  # ... and its out-of-hours (emergency duty team) telephone

    @property
    def sort_date(self) -> str:
        return self.start or self.recorded or self.end or ""


@dataclass(frozen=True)
class OpenTask:
    """A Task for the baby, in a source, not yet done or withdrawn: at discharge it must be closed or explained."""

    description: str
    owner: str
    due: str | None
    status: str
    source: str
    restricted: bool
    raised_by: str | None = None  # the NeoSafe checklist (its first version's id) that raised it, if one did
    raised_for: str | None = None  # the linkId of the answer in that checklist that raised it


@dataclass(frozen=True)
class Access:
    """One access CP-IS recorded in a child's access history (unscheduled care): when, and where from."""

    recorded: str  # when, as CP-IS sent it (an instant); an access CP-IS sent undated is not shown, but said
    organisation: str | None  # the setting, e.g. an emergency department; None: CP-IS did not say
    viewer: str | None = None  # the clinician who looked, and their role: withheld from a role that may not see
    role: str | None = None  # restricted detail (redaction.seen_by)


@dataclass
class AccessHistory:
    """A CP-IS access history (AuditEvent) for one person CP-IS holds a plan for, newest first and never expiring.
    `error`: it could not be read (*access history not checked*, never "no other accesses"); `problems`: entries
    left out (undated, unreadable), said beside the rest."""

    source: str
    person_role: str
    person_nhs_number: str
    person_name: str = ""
    accesses: list[Access] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    restricted: bool = True  # who looked at a child's record: the viewers' names are restricted detail

    @property
    def checked(self) -> bool:
        return self.error is None

    @property
    def settings(self) -> list[str]:
        """Each organisation the child was seen from, once, newest first."""
        return list(dict.fromkeys(a.organisation for a in self.accesses if a.organisation))


@dataclass
class Picture:
    """Everything NeoSafe knows about a baby's family at one moment, with what it could not check."""

    baby: Person
    people: list[Person]
    sources: list[SourceStatus]
    records: list[Record]
    gathered_at: datetime
    encounter: dict[str, Any] | None = None
    baby_resource: dict[str, Any] | None = None
    baby_ids: dict[str, str] = field(default_factory=dict)
    changes_since: str | None = None  # e.g. "the admission checklist of 20 November 2026"
    gone: list[dict[str, Any]] = field(default_factory=list)  # records seen then, not found now
    open_tasks: list[OpenTask] = field(default_factory=list)  # Tasks for the baby not yet done or withdrawn
    gestation_days: int | None = None  # at birth, as the record states it; None when no source says (never "term")
    access_history: list[AccessHistory] = field(default_factory=list)  # CP-IS's, for each person it holds a plan for

    @property
    def not_checked(self) -> list[SourceStatus]:
        return [s for s in self.sources if not s.checked]

    @property
    def father_recorded(self) -> bool:
        return any(p.role == "father" for p in self.people)

    @property
    def male_carer_recorded(self) -> bool:
        return any(p.male_carer for p in self.people)

    def categories(self) -> list[tuple[str, str, int, int]]:
        """(category, label, current count, historic count) for each category present, in mapping order."""
        seen: dict[str, list] = {}
        for record in sorted(self.records, key=lambda r: r.category_rank):
            entry = seen.setdefault(record.category, [record.category_label, 0, 0])
            entry[1 if record.current else 2] += 1
        return [(key, label, cur, hist) for key, (label, cur, hist) in seen.items()]
