"""The local database: SQLite to try NeoSafe, PostgreSQL in production (DATABASE_URL); Alembic owns its schema.

`migrations/` holds the revisions; `upgrade` applies them, `prepare` runs at start-up and either upgrades
(NEOSAFE_MIGRATE_ON_START) or refuses to serve from a database the migrations have not reached. A database that
cannot be reached or written raises DatabaseUnavailable, one line naming where and why, never the password;
`check_database` is what `neosafe serve` runs before it starts serving, so a deployer sees that line.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from app.config import DATA_ROOT, ConfigError

from . import facts, models, task_states  # noqa: F401  (registers the tables)

__all__ = [
    "MIGRATIONS_DIR",
    "DatabaseUnavailable",
    "SchemaNotReady",
    "SessionFactory",
    "alembic_config",
    "check_database",
    "current_revision",
    "head_revision",
    "make_engine",
    "prepare",
    "session_factory",
    "upgrade",
]

SessionFactory = async_sessionmaker[AsyncSession]
MIGRATIONS_DIR = DATA_ROOT / "migrations"
# Any constant will do: instances starting together on PostgreSQL take turns to migrate.
MIGRATION_LOCK = 0x6E656F73

log = logging.getLogger(__name__)


class SchemaNotReady(ConfigError):
    """The database is behind this NeoSafe's migrations; the message says how to bring it up to date."""


class DatabaseUnavailable(ConfigError):
    """The database cannot be reached, opened or written: one line naming where (host and port, or the SQLite
    file) and the driver's reason. Never the password."""


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


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reason(exc: BaseException, password: str | None) -> str:
    """The driver's own words for why it could not connect, on one line, with any password taken out."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    # SQLAlchemy's asyncpg adapter words its errors "<class 'asyncpg.exceptions.X'>: message".
    text = re.sub(r"^<class '[\w.]+'>: ", "", _one_line(str(cause))) or type(cause).__name__
    if password:
        text = text.replace(password, "***")
    return text


def _sqlite_problem(url: URL) -> str | None:
    """Why NeoSafe could not write this SQLite database file, before SQLite's own "unable to open database file"."""
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    path = Path(os.path.abspath(url.database))
    folder = path.parent
    where = f"the SQLite database {path} is not writable"
    fix = "create it or set DATABASE_URL to a writable path"
    if not folder.exists():
        return f"{where}: its folder {folder} does not exist; {fix}"
    if not folder.is_dir():
        return f"{where}: {folder} is not a folder; set DATABASE_URL to a writable path"
    if path.is_dir():
        return f"{where}: it is a folder; set DATABASE_URL to a file path"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"{where}: the file cannot be written (check its owner and permissions)"
    if not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"{where}: its folder {folder} cannot be written (SQLite keeps its journal files there); "
            "give NeoSafe's user write access to it or set DATABASE_URL to a writable path"
        )
    return None


def _unavailable(url: URL, exc: BaseException) -> DatabaseUnavailable:
    reason = _reason(exc, url.password if isinstance(url.password, str) else None)
    if url.get_backend_name() == "sqlite":
        problem = _sqlite_problem(url)
        if problem is not None:
            return DatabaseUnavailable(problem)
        return DatabaseUnavailable(f"cannot open the SQLite database {url.database}: {reason}")
    return DatabaseUnavailable(
        f"cannot connect to the database at host {url.host or 'localhost'} port {url.port or 5432} "
        f"(database {url.database}, user {url.username}): {reason}; check DATABASE_URL and that "
        "the database server is running and accepts connections from here"
    )


@asynccontextmanager
async def _connected(engine: AsyncEngine, *, begin: bool = False) -> AsyncIterator[AsyncConnection]:
    """A connection, or DatabaseUnavailable; errors once connected (e.g. in a migration) pass as they are."""
    if engine.dialect.name == "sqlite" and (problem := _sqlite_problem(engine.url)) is not None:
        raise DatabaseUnavailable(problem)
    try:
        connection = await engine.connect()
    except (OSError, SQLAlchemyError) as exc:  # OSError: refused, no such host, timed out (asyncpg's own)
        raise _unavailable(engine.url, exc) from exc
    try:
        if begin:
            async with connection.begin():
                yield connection
        else:
            yield connection
    finally:
        await connection.close()


def _read_revision(connection: Connection) -> str | None:
    # Reading the revision is not migrating: Alembic's "Context impl ..." lines would be noise before a refusal.
    alembic_log = logging.getLogger("alembic.runtime.migration")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        return MigrationContext.configure(connection).get_current_revision()
    finally:
        alembic_log.setLevel(level)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for a database no migration has touched."""
    async with _connected(engine) as connection:
        return await connection.run_sync(_read_revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` in one transaction (PostgreSQL: one instance at a time).
    DatabaseUnavailable if the database cannot be reached or written."""
    async with _connected(engine, begin=True) as connection:
        if connection.dialect.name == "postgresql":
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def prepare(engine: AsyncEngine, *, migrate: bool) -> None:
    """At start-up: upgrade, or check that the database is at this NeoSafe's revision (SchemaNotReady if behind;
    DatabaseUnavailable if it cannot be reached or written)."""
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


async def check_database(url: str, *, migrate: bool) -> None:
    """What `neosafe serve` runs before uvicorn starts: `prepare` on an engine of its own, so an unreachable or
    unwritable database, or one behind the migrations, is refused in one line rather than a start-up traceback."""
    engine = make_engine(url)
    try:
        await prepare(engine, migrate=migrate)
    finally:
        await engine.dispose()
