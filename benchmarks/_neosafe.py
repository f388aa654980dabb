"""NeoSafe as the soak runs it: `neosafe serve` in a process of its own, killed with SIGKILL and started again.

The soak must kill NeoSafe as a crash or the OOM killer would, with requests and outbox sends in flight, and start
it again on the same database and port while its clients carry on; so NeoSafe runs apart from them. This module
is how it is configured, started, stopped and killed, and what its database says while it is down or idle; the
scenario and its checks stay in `benchmarks/soak.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlmodel import select

from app.assessments import Assessment, OutboxEntry, SessionFactory, make_engine, outbox_counts, session_factory
from app.config import PROJECT_ROOT
from testkit.ports import free_port

__all__ = ["NeoSafe"]

NEOSAFE = str(Path(sys.executable).with_name("neosafe"))
START_TIMEOUT_S = 60.0


class NeoSafe:
    """`neosafe serve` as a process of its own, on one port and one database, however often it is restarted.

    Its one source is the write-back server at `write_back_url`; it runs its outbox worker, briskly
    (every 0.5 s, retries from 0.5 s up to 5 s), and a killed process's claims are taken up after `lease_s`.
    """

    def __init__(self, work: Path, *, write_back_url: str, timeout_s: float, lease_s: float) -> None:
        self.work, self.port = work, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = f"sqlite+aiosqlite:///{work / 'neosafe.db'}"
        self.secret = secrets.token_urlsafe(48)
        sources = work / "sources.toml"
        sources.write_text(
            f'[sources.neonatal]\nbase_url = "{write_back_url}"\ntimeout_s = {timeout_s}\nwrite_back = true\n',
            encoding="utf-8",
        )
        self.env = {
            **os.environ,
            "DATABASE_URL": self.db_url,
            "NEOSAFE_SOURCES": str(sources),
            "NEOSAFE_SECRET_KEY": self.secret,
            "NEOSAFE_DEMO_USERS": "true",
            "NEOSAFE_MIGRATE_ON_START": "true",
            "NEOSAFE_LOG_FORMAT": "json",
            "NEOSAFE_OUTBOX_INTERVAL_S": "0.5",
            "NEOSAFE_OUTBOX_RETRY_BASE_S": "0.5",
            "NEOSAFE_OUTBOX_RETRY_MAX_S": "5",
            "NEOSAFE_OUTBOX_LEASE_S": str(lease_s),
        }
        self.process: subprocess.Popen | None = None
        self.up = asyncio.Event()
        self.starts = 0

    def _launch(self) -> subprocess.Popen:
        self.starts += 1
        with (self.work / f"neosafe-{self.starts}.log").open("wb") as log:
            return subprocess.Popen(
                [NEOSAFE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )

    async def start(self) -> None:
        """Start it and wait until /healthz answers."""
        self.process = self._launch()
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"neosafe serve exited; see {self.work}/neosafe-{self.starts}.log")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"neosafe serve did not answer within {START_TIMEOUT_S:g} s")
                await asyncio.sleep(0.1)
        self.up.set()

    def kill(self) -> None:
        """kill -9: no clean-up, no finishing the send in flight."""
        self.up.clear()
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as a platform stops it: it finishes the send in flight first."""
        self.up.clear()
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    @contextlib.asynccontextmanager
    async def database(self) -> AsyncIterator[SessionFactory]:
        """Sessions on its database, from outside its process."""
        engine = make_engine(self.db_url)
        try:
            yield session_factory(engine)
        finally:
            await engine.dispose()

    async def at_kill(self) -> tuple[int, dict[str, str]]:
        """What its database holds once killed: outbox entries it had claimed; assessment ids by submission key."""
        async with self.database() as sessions, sessions() as session:
            claimed = await session.exec(select(OutboxEntry.id).where(OutboxEntry.claimed_by.is_not(None)))
            keyed = await session.exec(
                select(Assessment.submission_key, Assessment.id).where(Assessment.submission_key.is_not(None))
            )
            return len(claimed.all()), {key: assessment_id for key, assessment_id in keyed.all()}

    async def drain(self, timeout_s: float) -> dict[str, int]:
        """Wait until its outbox has nothing queued or retrying, for `timeout_s` at most; the counts by state."""
        deadline = time.monotonic() + timeout_s
        async with self.database() as sessions:
            while True:
                counts = await outbox_counts(sessions)
                if (not counts.get("queued") and not counts.get("retrying")) or time.monotonic() > deadline:
                    return counts
                await asyncio.sleep(0.25)
