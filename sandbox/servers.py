"""The sandbox: one sekmet FHIR R4 server per source kind on 127.0.0.1, seeded with synthetic families.

Used by `neosafe demo`, the tests and the benchmarks. Each server is a separate process with its own store, so
logical ids are never shared between sources, as in real life.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit.ports import free_port

__all__ = ["FAMILIES_DIR", "SOURCE_KINDS", "Sandbox", "start_timeout_s"]

FAMILIES_DIR = Path(__file__).parent / "families"
SOURCE_KINDS = ("neonatal", "maternity", "social-care", "cpis", "police-gp")
WRITE_BACK = "neonatal"
PROBE_TIMEOUT_S = 10.0  # one /metadata request; a server starting on a busy machine can be slow to answer


def start_timeout_s() -> float:
    """How long a server may take to answer /metadata: NEOSAFE_SANDBOX_START_S, else 180 s.

    Generous because it only bounds a server that never comes up: the wait ends as soon as each one answers,
    or at once if it exits. On 2 busy cores (another demo, the tests in parallel) five servers take a while.
    """
    return float(os.environ.get("NEOSAFE_SANDBOX_START_S") or 180)


@dataclass
class _Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    database: Path  # sekmet's SQLite file

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"


@dataclass
class Sandbox:
    """Start with `with Sandbox(work_dir) as sandbox:`; `sandbox.urls` maps source name to base URL."""

    work_dir: Path
    families_dir: Path = FAMILIES_DIR
    kinds: tuple[str, ...] = SOURCE_KINDS
    server_settings: dict[str, dict] = field(default_factory=dict)  # extra sekmet settings per source kind
    start_timeout_s: float = field(default_factory=start_timeout_s)
    servers: dict[str, _Server] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.base_url for name, server in self.servers.items()}

    def __enter__(self) -> Sandbox:
        try:
            self.start()
            self.seed()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        for name in self.kinds:
            self.servers[name] = self._launch(name)
        deadline = time.monotonic() + self.start_timeout_s
        for server in self.servers.values():
            _wait_until_up(server, deadline, self.start_timeout_s)

    def restart(self, name: str) -> None:
        """Stop one source's server and start it again on the same port and data; returns once /metadata answers."""
        server = self.servers.pop(name)
        _stop(server.process)
        self.servers[name] = self._launch(name, port=server.port)
        _wait_until_up(self.servers[name], time.monotonic() + self.start_timeout_s, self.start_timeout_s)

    def _launch(self, name: str, *, port: int | None = None) -> _Server:
        home = self.work_dir / name
        home.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        settings = {
            "base_url": f"http://127.0.0.1:{port}/fhir",
            "host": "127.0.0.1",
            "port": port,
            "data_dir": str(home / "data"),
            "log_inbound": False,
            "simulator": {"enabled": False},
            "software_name": f"NeoSafe sandbox: {name}",
            **self.server_settings.get(name, {}),
        }
        config = home / "settings.yaml"
        config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is valid YAML
        env = {**os.environ, "SEKMET_CONFIG": str(config)}
        # Where sekmet keeps its store (sekmet.config.Settings.database), relative to its working directory.
        database = home / (env.get("SEKMET_DB") or settings.get("db_path") or Path(settings["data_dir"], "sekmet.db"))
        log = home / "server.log"
        with log.open("ab") as out:  # a restart adds to the log
            process = subprocess.Popen(
                [sys.executable, "-c", "from sekmet.cli import app; app()", "serve", "--config", str(config)],
                cwd=home,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return _Server(name, port, process, log, database)

    def seed(self) -> None:
        """Load every family's bundle for each source, in folder order (00-unit first); then `analyze` them all."""
        with httpx.Client(timeout=30) as http:
            for family in sorted(p for p in self.families_dir.iterdir() if p.is_dir()):
                for name, server in self.servers.items():
                    bundle = family / f"{name}.json"
                    if bundle.exists():
                        response = http.post(
                            server.base_url,
                            content=bundle.read_bytes(),
                            headers={"Content-Type": "application/fhir+json", **self._seed_auth(name)},
                        )
                        if response.status_code >= 300:
                            raise RuntimeError(f"seeding {bundle} failed: {response.status_code} {response.text[:500]}")
        self.analyze()

    def analyze(self, *names: str) -> None:
        """Give these servers' (default: all) SQLite query planners statistics (ANALYZE), as a DBA would.

        Without them SQLite answers `_revinclude=Observation:subject` (in every picture's first search) by walking
        the index rows of every Observation on the server, so each picture costs more with each checklist written.
        A running server takes the statistics up when the first ANALYZE creates their table (as `seed` does);
        those of a later ANALYZE, when it next opens its database (`restart`). A millisecond or so per server.
        """
        for name in names or tuple(self.servers):
            database = self.servers[name].database
            if not database.is_file():
                raise RuntimeError(f"sandbox source {name} has no database at {database}")
            with closing(sqlite3.connect(f"{database.as_uri()}?mode=rw", uri=True, timeout=30)) as connection:
                connection.execute("ANALYZE")
                connection.commit()

    def _seed_auth(self, name: str) -> dict[str, str]:
        """A server that demands auth is seeded with the first static token its settings accept."""
        tokens = self.server_settings.get(name, {}).get("server_auth", {}).get("tokens") or []
        return {"Authorization": f"Bearer {tokens[0]}"} if tokens else {}

    def stop(self) -> None:
        for server in self.servers.values():
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers.values():
            _stop(server.process)
        self.servers.clear()

    def sources_toml(self, *, timeout_s: float = 10.0, overrides: dict[str, str] | None = None) -> str:
        """A sources file for these servers; `overrides` replaces a source's URL (e.g. a closed port)."""
        urls = {**self.urls, **(overrides or {})}
        lines = []
        for name, url in urls.items():
            lines += [f"[sources.{name}]", f'base_url = "{url}"', f"timeout_s = {timeout_s}"]
            if name == WRITE_BACK:
                lines.append("write_back = true")
            lines.append("")
        return "\n".join(lines)


def _stop(process: subprocess.Popen) -> None:
    """Ask the server to stop; kill it if it has not within 10 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_up(server: _Server, deadline: float, bound_s: float) -> None:
    """Until /metadata answers 200: ends as soon as it does, or as soon as the server exits."""
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"sandbox source {server.name} exited; see {server.log}")
        try:
            if httpx.get(f"{server.base_url}/metadata", timeout=PROBE_TIMEOUT_S).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"sandbox source {server.name} did not answer within {bound_s:g} s (NEOSAFE_SANDBOX_START_S); "
                f"see {server.log}"
            )
        time.sleep(0.1)
