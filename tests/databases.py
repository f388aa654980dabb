"""Throwaway databases for the tests: a SQLite file each, or with NEOSAFE_TEST_DATABASE_URL a PostgreSQL database each.

On PostgreSQL every database this run makes is named `neosafe_test_<run>_<n>` and dropped when the run ends.
"""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from sqlalchemy import make_url

__all__ = ["Databases"]


class Databases:
    def __init__(self, server_url: str | None) -> None:
        self.server = make_url(server_url) if server_url else None
        self.prefix = f"neosafe_test_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def new(self, directory: Path) -> str:
        """The URL of a new, empty database (SQLite: in `directory`)."""
        if self.server is None:
            return f"sqlite+aiosqlite:///{directory / 'neosafe.db'}"
        name = f"{self.prefix}_{len(self.created)}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        while self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{self.created.pop()}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        """Run one statement on the server's own database, on a thread: callers may be inside an event loop."""
        assert self.server is not None
        dsn = self.server.set(drivername="postgresql").render_as_string(hide_password=False)

        async def execute() -> None:
            connection = await asyncpg.connect(dsn)
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(asyncio.run, execute()).result()
