"""The FHIR Subscriptions NeoSafe registered on its sources (watching the stay): one row per source and criteria.

The row is made before the Subscription, so a notification that arrives as soon as it is created can be checked.
Only a hash of each Subscription's secret is kept: the secret itself is in the Subscription's channel header, on
the source, and a copy of this table cannot be used to send a notification.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Field, SQLModel, col, select

from .db import SessionFactory
from .models import JobLease, utcnow

__all__ = [
    "WatchSubscription",
    "drop_subscriptions",
    "release_lease",
    "save_subscription",
    "subscription_by_key",
    "subscriptions_of",
]


class WatchSubscription(SQLModel, table=True):
    """A Subscription on `source` for `criteria`; `key` names it in the notification URL."""

    key: str = Field(primary_key=True)
    source: str = Field(index=True)
    criteria: str
    secret_sha256: str  # of the bearer token in channel.header: a random 256-bit token needs no slow hash
    subscription_id: str | None = None  # the server's id, once it has answered
    created_at: datetime = Field(default_factory=utcnow)


async def save_subscription(sessions: SessionFactory, row: WatchSubscription) -> None:
    async with sessions() as session:
        await session.merge(row)
        await session.commit()


async def subscriptions_of(sessions: SessionFactory, source: str) -> list[WatchSubscription]:
    async with sessions() as session:
        rows = await session.exec(select(WatchSubscription).where(col(WatchSubscription.source) == source))
        return list(rows.all())


async def subscription_by_key(sessions: SessionFactory, key: str) -> WatchSubscription | None:
    async with sessions() as session:
        return await session.get(WatchSubscription, key)


async def drop_subscriptions(sessions: SessionFactory, keys: list[str]) -> None:
    """Forget these rows: their Subscriptions are gone, or are being replaced (a notification to them is refused)."""
    async with sessions() as session:
        await session.exec(delete(WatchSubscription).where(col(WatchSubscription.key).in_(keys)))
        await session.commit()


async def release_lease(sessions: SessionFactory, name: str, *, holder: str, now: datetime) -> None:
    """Give job `name` back before its lease runs out, if `holder` still holds it."""
    async with sessions() as session:
        await session.exec(
            update(JobLease).where(col(JobLease.name) == name).where(col(JobLease.holder) == holder).values(until=now)
        )
        await session.commit()
