"""Alembic's environment: NeoSafe's tables, an async engine from DATABASE_URL, ALTERs that SQLite can do.

Three ways in: `neosafe db upgrade` and start-up hand over a connection (app.assessments.db); the
`alembic` command reads DATABASE_URL; `alembic upgrade head --sql` writes the SQL for a DBA to review.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlmodel import AutoString, SQLModel
from sqlmodel.sql.sqltypes import UTCDateTime

from app.assessments.db import make_engine
from app.config import RuntimeSettings


def render_item(kind: str, item: object, _context: object) -> str | bool:
    """Write SQLModel's column types as the plain SQLAlchemy types they store: revisions never import sqlmodel."""
    if kind == "type" and isinstance(item, AutoString):
        return f"sa.String({item.impl.length or ''})"
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


OPTIONS = {
    "target_metadata": SQLModel.metadata,
    "render_as_batch": True,  # SQLite alters a table by copying it; batch mode does that for us
    "compare_type": True,
    "render_item": render_item,
}


def run(connection: Connection) -> None:
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
    finally:
        await engine.dispose()


def main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url") or RuntimeSettings().database_url
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_with_own_engine(url))


main()
