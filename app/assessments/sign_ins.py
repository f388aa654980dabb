"""Sign-ins kept in the database, so that ending one ends it for every copy of its cookie on every instance; and
the answers of a checklist posted just after its author's sign-in ended for being unused, kept for them to finish.

What ends a sign-in (signing out, too long unused, too old) is decided by the web layer (app/web/deps.py); these
functions only keep the rows. Times are stored in UTC.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col

from .db import SessionFactory
from .models import HeldAnswers, SignIn, as_utc

__all__ = ["end_sign_in", "find_sign_in", "held_answers", "hold_answers", "open_sign_in", "release_answers", "seen"]


async def open_sign_in(
    sessions: SessionFactory,
    *,
    user_id: str,
    name: str,
    role: str,
    now: datetime,
    keep: timedelta,
    cis2_token: str | None = None,
    cis2_expires_at: datetime | None = None,
    launch: tuple[str, str, str | None, str | None] | None = None,
) -> SignIn:
    """A new, open sign-in (with the NHS CIS2 access token, where CIS2 vouched for the user; with a SMART EHR
    launch's (iss, baby's NHS number, checked encounter id or None, the write-back source it names or None), where
    an EPR launched it). Sign-ins begun more than `keep` (the longest one may last) ago are cleared away, their
    tokens with them."""
    iss, launched, encounter, write_back = launch or (None, None, None, None)
    now = as_utc(now)
    sign_in = SignIn(
        id=secrets.token_urlsafe(32),
        user_id=user_id,
        name=name,
        role=role,
        created_at=now,
        last_seen_at=now,
        cis2_access_token=cis2_token or None,
        cis2_token_expires_at=as_utc(cis2_expires_at) if cis2_expires_at else None,
        launch_iss=iss,
        launch_nhs_number=launched,
        launch_encounter=encounter,
        launch_write_back=write_back,
    )
    async with sessions() as session:
        await session.exec(delete(SignIn).where(col(SignIn.created_at) < now - keep))
        session.add(sign_in)
        await session.commit()
    return sign_in


async def find_sign_in(sessions: SessionFactory, sign_in_id: str) -> SignIn | None:
    async with sessions() as session:
        found = await session.get(SignIn, sign_in_id)
    if found is not None:
        found.created_at, found.last_seen_at = as_utc(found.created_at), as_utc(found.last_seen_at)
        found.ended_at = found.ended_at and as_utc(found.ended_at)
        found.cis2_token_expires_at = found.cis2_token_expires_at and as_utc(found.cis2_token_expires_at)
    return found


async def end_sign_in(sessions: SessionFactory, sign_in_id: str, *, now: datetime, reason: str) -> bool:
    """End the sign-in if it is still open, its CIS2 token forgotten; True if this call ended it (two requests at
    once end it once)."""
    async with sessions() as session:
        result = await session.exec(
            update(SignIn)
            .where(col(SignIn.id) == sign_in_id)
            .where(col(SignIn.ended_at).is_(None))
            .values(ended_at=as_utc(now), end_reason=reason, cis2_access_token=None)  # an ended sign-in keeps no token
        )
        await session.commit()
    return result.rowcount == 1


async def seen(sessions: SessionFactory, sign_in_id: str, *, now: datetime) -> None:
    """The sign-in was used now: its idle time starts again."""
    async with sessions() as session:
        await session.exec(
            update(SignIn)
            .where(col(SignIn.id) == sign_in_id)
            .where(col(SignIn.ended_at).is_(None))
            .values(last_seen_at=as_utc(now))
        )
        await session.commit()


async def hold_answers(
    sessions: SessionFactory, *, user_id: str, path: str, fields: dict[str, list[str]], now: datetime, keep: timedelta
) -> str:
    """Keep a posted form's fields for `user_id` to resume; the id to resume them by. Held answers older than
    `keep` are cleared away."""
    now = as_utc(now)
    held = HeldAnswers(
        id=secrets.token_urlsafe(24), user_id=user_id, path=path, fields_json=json.dumps(fields), created_at=now
    )
    async with sessions() as session:
        await session.exec(delete(HeldAnswers).where(col(HeldAnswers.created_at) < now - keep))
        session.add(held)
        await session.commit()
    return held.id


async def held_answers(
    sessions: SessionFactory, held_id: str, *, user_id: str, path: str, now: datetime, keep: timedelta
) -> dict[str, list[str]] | None:
    """The fields held under this id for this user and this form; None for anyone else's, another form's,
    answers older than `keep`, or answers already resumed."""
    async with sessions() as session:
        held = await session.get(HeldAnswers, held_id)
    if held is None or held.user_id != user_id or held.path != path or as_utc(held.created_at) < as_utc(now) - keep:
        return None
    return json.loads(held.fields_json)


async def release_answers(sessions: SessionFactory, held_id: str) -> None:
    """The held answers are back on the user's page: nothing more to keep."""
    async with sessions() as session:
        await session.exec(delete(HeldAnswers).where(col(HeldAnswers.id) == held_id))
        await session.commit()
