"""The local database: SQLite to try NeoSafe, PostgreSQL in production (DATABASE_URL); Alembic owns its schema.

`migrations/` holds the revisions; `upgrade` applies them, `prepare` runs at start-up and either upgrades
(NEOSAFE_MIGRATE_ON_START) or refuses to serve from a database the migrations have not reached.
"""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import PROJECT_ROOT, ConfigError

from . import models  # noqa: F401  (registers the tables)

__all__ = [
    "MIGRATIONS_DIR",
    "SchemaNotReady",
    "SessionFactory",
    "alembic_config",
    "current_revision",
    "head_revision",
    "make_engine",
    "prepare",
    "session_factory",
    "upgrade",
]

SessionFactory = async_sessionmaker[AsyncSession]
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
# Any constant will do: instances starting together on PostgreSQL take turns to migrate.
MIGRATION_LOCK = 0x6E656F73

log = logging.getLogger(__name__)


class SchemaNotReady(ConfigError):
    """The database is behind this NeoSafe's migrations; the message says how to bring it up to date."""


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=True)  # a PostgreSQL restart costs no failed request
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _durable(connection, _record) -> None:
            # WAL with full sync: a committed assessment survives a crash or power cut.
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without alembic.ini, so it works from any directory; `connection` is used as is."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, f"no revisions in {MIGRATIONS_DIR}"
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for a database no migration has touched."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` in one transaction (PostgreSQL: one instance at a time)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def prepare(engine: AsyncEngine, *, migrate: bool) -> None:
    """At start-up: upgrade, or check that the database is at this NeoSafe's revision (SchemaNotReady if behind)."""
    if migrate:
        await upgrade(engine)
        return
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is None or current in known:
        raise SchemaNotReady(
            f"the database is at revision {current or 'none (no tables)'} and this NeoSafe needs {head}: "
            "run `neosafe db upgrade`, or set NEOSAFE_MIGRATE_ON_START=true"
        )
    # During a rolling upgrade an older instance may meet a schema migrated for a newer one.
    log.warning("database revision %s is newer than this NeoSafe's %s; carrying on", current, head)
