"""Who uses NeoSafe: the roles of a neonatal unit and its community team, and a signed-in user."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.fhir_systems import SDS_USER_ID_SYSTEM

from .schedule import IN_STAY

__all__ = ["DEMO_USERS", "ROLES", "WATCHER", "Launched", "Role", "User"]


@dataclass(frozen=True)
class Role:
    """What a role is entitled to, as data; app.checkpoints.policy.may is the one place it is decided from."""

    key: str
    label: str
    completes: frozenset[str]  # checkpoints whose checklist this role may fill in, save as a draft and amend
    sees_restricted: bool  # may read restricted (R/V) records in full
    resends: bool = False  # may see the outbox and send again an assessment the FHIR server refused
    cosigns: bool = False  # the named nurse for safeguarding: co-signs where a checklist asks for it


ROLES: dict[str, Role] = {
    r.key: r
    for r in (
        # The in-stay checks (schedule.IN_STAY) are made by the nurses caring for the baby and the safeguarding
        # lead, not by the discharge coordinator or the community team.
        Role("nurse", "Neonatal nurse", frozenset({"admission", "transfer", "discharge", *IN_STAY}), True),
        Role("discharge-coordinator", "Discharge coordinator", frozenset({"transfer", "discharge"}), True),
        Role("community-nurse", "Community neonatal nurse", frozenset(), False),
        Role(
            "safeguarding-lead",
            "Safeguarding lead",
            frozenset({"admission", "transfer", "discharge", *IN_STAY}),
            sees_restricted=True,
            resends=True,
            cosigns=True,
        ),
    )
}


@dataclass(frozen=True)
class Launched:
    """What a SMART EHR launch told this sign-in, kept server-side with it: the EPR's FHIR server (`iss`), the baby
    it opened, and the stay it is in (an Encounter id on `iss` whose subject is that baby; None if it gave none NeoSafe
    could check), and the source its checklists are written to if the EPR's entry names one (None: the unit's
    write_back source). It speaks for that baby only."""

    iss: str
    nhs_number: str
    encounter: str | None
    write_back: str | None = None

    def write_back_for(self, nhs_number: str | None) -> str | None:
        """The source a checklist of this baby begun in this sign-in is written to, if the launch names one."""
        return self.write_back if nhs_number and nhs_number == self.nhs_number else None

    def encounter_of(self, nhs_number: str | None) -> str | None:
        """The launch's stay as an absolute reference, `<iss>/Encounter/<id>`, if it is about this baby."""
        if self.encounter and nhs_number and nhs_number == self.nhs_number:
            return f"{self.iss}/Encounter/{self.encounter}"
        return None


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    # The NHS CIS2 access token of this user's sign-in, where CIS2 vouched for them and it has not expired: what
    # user-restricted national APIs (CP-IS) are called with. None for demo users, API tokens and NeoSafe's own jobs.
    cis2_token: str | None = field(default=None, repr=False, compare=False)
    # The SMART EHR launch this sign-in began with, if an EPR launched it (never from a request's body or query).
    launch: Launched | None = field(default=None, compare=False)

    def reference(self) -> dict:
        """The user as a FHIR Reference, for author and performer."""
        return {
            "identifier": {"system": SDS_USER_ID_SYSTEM, "value": self.id},
            "display": f"{self.name} ({self.role.label})",
        }


DEMO_USERS: dict[str, User] = {
    u.role.key: u
    for u in (
        User("demo-nurse", "Alex Morgan", ROLES["nurse"]),
        User("demo-discharge", "Sam Patel", ROLES["discharge-coordinator"]),
        User("demo-community", "Jo Williams", ROLES["community-nurse"]),
        User("demo-safeguarding", "Chris Okafor", ROLES["safeguarding-lead"]),
    )
}

# The watch job, as the audit trail names it when it reads the unit's babies between checkpoints. Not a role anyone
# signs in with (ROLES does not hold it), and it sees no restricted detail.
WATCHER = User("neosafe-watch", "NeoSafe watch job", Role("system", "NeoSafe (watching the stay)", frozenset(), False))
