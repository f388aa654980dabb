"""The picture as a role may see it: built once, then drawn as it is by the pages, the API and the handover."""

from __future__ import annotations

from dataclasses import replace

from app.picture import AccessHistory, PersonCheck, Picture

from .policy import Action, may
from .users import User

__all__ = ["ASKED_BY_ANOTHER", "WITHHELD", "kept_for", "seen_by"]

WITHHELD = "Restricted record: ask the safeguarding team for the detail"  # all a role that may not see it is shown
ASKED_BY_ANOTHER = (
    "asked by another clinician: it answers only the clinician who asks, so open the baby's page to ask it "
    "with your own NHS Care Identity sign-in"
)


def seen_by(picture: Picture, user: User) -> Picture:
    """The picture with each restricted record's, vanished record's and task's detail, and who looked in each CP-IS
    access history, withheld, unless `user` may see restricted records. That a restricted record exists, when and
    where, is never withheld: nor is when and from where a child's CP-IS record was accessed."""
    if may(user, Action.SEE_RESTRICTED):
        return picture
    return replace(
        picture,
        records=[replace(r, code="", system="", display=WITHHELD) if r.restricted else r for r in picture.records],
        access_history=[_withheld(h) if h.restricted else h for h in picture.access_history],
        gone=[{**g, "display": WITHHELD} if g.get("restricted") else g for g in picture.gone],
        open_tasks=[replace(t, description=WITHHELD) if t.restricted else t for t in picture.open_tasks],
    )


def _withheld(history: AccessHistory) -> AccessHistory:
    """A CP-IS access history with who looked (the viewer and their role) withheld: when and where from stay."""
    return replace(history, accesses=[replace(a, viewer=None, role=None) for a in history.accesses])


def _untraced(picture: Picture) -> Picture:
    """The picture without the NHS numbers a PDS trace gave the clinician who asked, nor what was found under them:
    for another reader each traced person is not traced (asked by another clinician), never "none found"."""
    traced = {p.nhs_number for p in picture.people if p.traced}
    if not traced:
        return picture
    why = f"not traced: {ASKED_BY_ANOTHER}"
    unchecked = PersonCheck("not-checked", f"not checked: {why}", reason="not traced on PDS")
    people = [
        replace(
            p,
            nhs_number=None,
            traced=False,
            not_traced=why,
            nhs_number_status=f"No NHS number: {why}",
            nhs_number_verified=False,
            checks={name: unchecked for name in p.checks},
            found_on={},
        )
        if p.traced
        else p
        for p in picture.people
    ]
    records = [r for r in picture.records if r.person_nhs_number not in traced]
    return replace(picture, people=people, records=records)


def kept_for(picture: Picture, *, asked_by: str | None, reader: User, user_restricted: frozenset[str]) -> Picture:
    """A picture kept from one user's view (the worklist's), as another user may reuse it. What a user-restricted
    national service (CP-IS) told the clinician who asked was told to them, under their own access, recorded by the
    service: for anyone else that source reads *not checked*, its records left out, never "none found"."""
    if asked_by == reader.id:
        return picture
    picture = _untraced(picture)
    theirs = {s.name for s in picture.sources if s.name in user_restricted and s.checked}
    if not theirs:
        return picture
    unchecked = PersonCheck("not-checked", f"Not checked: {ASKED_BY_ANOTHER}", reason="asked by another clinician")
    people = {
        id(p): replace(p, checks={n: unchecked if n in theirs else c for n, c in p.checks.items()})
        for p in (picture.baby, *picture.people)
    }
    return replace(
        picture,
        baby=people[id(picture.baby)],
        people=[people[id(p)] for p in picture.people],
        sources=[
            replace(s, status="unavailable", detail=f"Not checked: {ASKED_BY_ANOTHER}", checked_at=None, records=0)
            if s.name in theirs
            else s
            for s in picture.sources
        ],
        records=[r for r in picture.records if r.source not in theirs],
        access_history=[h for h in picture.access_history if h.source not in theirs],
    )
