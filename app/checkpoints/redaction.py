"""The picture as a role may see it: built once, then drawn as it is by the pages, the API and the handover."""

from __future__ import annotations

from dataclasses import replace

from app.picture import Picture

from .policy import Action, may
from .users import User

__all__ = ["WITHHELD", "seen_by"]

WITHHELD = "Restricted record: ask the safeguarding team for the detail"  # all a role that may not see it is shown


def seen_by(picture: Picture, user: User) -> Picture:
    """The picture with each restricted record's, vanished record's and task's detail withheld, unless `user`
    may see restricted records. That a restricted record exists, when and where, is never withheld."""
    if may(user, Action.SEE_RESTRICTED):
        return picture
    return replace(
        picture,
        records=[replace(r, code="", system="", display=WITHHELD) if r.restricted else r for r in picture.records],
        gone=[{**g, "display": WITHHELD} if g.get("restricted") else g for g in picture.gone],
        open_tasks=[replace(t, description=WITHHELD) if t.restricted else t for t in picture.open_tasks],
    )
