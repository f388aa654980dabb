"""CDS Hooks (issue 17): which cards the EPR shows for a baby, decided here for `web/cds_hooks.py` to answer."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

__all__ = ["CdsSeenJwt"]


class CdsSeenJwt(SQLModel, table=True):
    """A hook call's JWT id, kept until the JWT expires: the same id again from the same EPR is a replay, refused
    by every instance sharing the database (the primary key decides, not a cache)."""

    issuer: str = Field(primary_key=True)
    jti: str = Field(primary_key=True)
    expires_at: datetime = Field(index=True)
    seen_at: datetime
