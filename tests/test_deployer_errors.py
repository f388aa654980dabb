"""What a trust's deployer sees when NeoSafe cannot start: one line on stderr, `neosafe: ...`, saying what is wrong
and what to do, and exit 2. Never a traceback, never a password. Run as the deployer runs it: the `neosafe`
command in a process of its own, configured by the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.config import PROJECT_ROOT, ConfigError, Settings, load_sources
from tests.conftest import SECRET

NEOSAFE = str(Path(sys.executable).with_name("neosafe"))
PASSWORD = "s3cret-Pa55word"
KNOWN_KINDS = tuple(tomllib.loads((PROJECT_ROOT / "fhir_mappings" / "sources.toml").read_text())["sources"])


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sources_file(directory: Path, *extra_kinds: str) -> Path:
    """A sources file with the unit's EPR (at a closed port: nothing here talks to a source) and `extra_kinds`."""
    url = f"http://127.0.0.1:{closed_port()}/fhir"
    text = f'[sources.neonatal]\nbase_url = "{url}"\nwrite_back = true\n'
    text += "".join(f'\n[sources.{kind}]\nbase_url = "{url}"\n' for kind in extra_kinds)
    path = directory / f"sources-{'-'.join(('neonatal', *extra_kinds))}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def environment(directory: Path, **settings: str) -> dict[str, str]:
    """A deployment's environment: this one without any NeoSafe setting, then a sound service's, then `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEOSAFE_") and k != "DATABASE_URL"}
    return {
        **env,
        "NEOSAFE_LOG_FORMAT": "text",
        "NEOSAFE_SECRET_KEY": SECRET,
        "NEOSAFE_DEMO_USERS": "true",
        "NEOSAFE_SOURCES": str(sources_file(directory)),
        "NEOSAFE_OUTBOX_WORKER": "false",
        **settings,
    }


def refused(directory: Path, *args: str, **settings: str) -> str:
    """Run `neosafe *args`; check it refused the deployer's way and return its one line."""
    done = subprocess.run(
        [NEOSAFE, *args, "--port", str(closed_port())] if args[0] == "serve" else [NEOSAFE, *args],
        env=environment(directory, **settings),
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("neosafe: ")
    return lines[0]


@pytest.mark.parametrize("command", [("db", "upgrade"), ("serve",)], ids=["db upgrade", "serve"])
def test_an_unreachable_database_is_named_by_host_and_port_with_the_drivers_reason(tmp_path, command):
    port = closed_port()
    url = f"postgresql+asyncpg://neosafe:{PASSWORD}@127.0.0.1:{port}/neosafe"

    line = refused(tmp_path, *command, DATABASE_URL=url)

    assert f"host 127.0.0.1 port {port}" in line
    assert "Connect call failed" in line  # asyncpg's own words: the connection was refused
    assert "DATABASE_URL" in line


@pytest.mark.parametrize("command", [("db", "upgrade"), ("serve",)], ids=["db upgrade", "serve"])
def test_a_sqlite_database_in_a_missing_folder_is_named_as_not_writable(tmp_path, command):
    database = tmp_path / "no-such-folder" / "neosafe.db"

    line = refused(tmp_path, *command, DATABASE_URL=f"sqlite+aiosqlite:///{database}")

    assert f"the SQLite database {database} is not writable" in line
    assert f"its folder {database.parent} does not exist" in line


def test_a_sqlite_database_in_a_read_only_folder_is_named_as_not_writable(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: have NeoSafe see the folder as the service's own user would
        access = os.access

        def as_the_service(path, mode, *args, **kwargs) -> bool:
            return access(path, mode, *args, **kwargs) and not (Path(path) == folder and mode & os.W_OK)

        monkeypatch.setattr(os, "access", as_the_service)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{folder / 'neosafe.db'}")
    monkeypatch.setenv("NEOSAFE_LOG_FORMAT", "text")

    with pytest.raises(SystemExit) as exited:
        main(["db", "upgrade"])

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith(f"neosafe: database problem: the SQLite database {folder / 'neosafe.db'} is not writable")
    assert f"its folder {folder} cannot be written" in err
    assert not (folder / "neosafe.db").exists()


def test_serve_on_a_database_without_the_migrations_says_to_run_neosafe_db_upgrade(tmp_path, settings):
    line = refused(tmp_path, "serve", DATABASE_URL=settings.database_url, NEOSAFE_MIGRATE_ON_START="false")

    assert "run `neosafe db upgrade`" in line
    assert "NEOSAFE_MIGRATE_ON_START=true" in line


def test_an_unknown_kind_of_source_is_refused_listing_the_known_kinds(tmp_path, settings):
    path = sources_file(tmp_path, "maternity", "mystery")

    line = refused(tmp_path, "serve", DATABASE_URL=settings.database_url, NEOSAFE_SOURCES=str(path))

    assert "[sources.mystery]" in line
    assert f"the known kinds are {', '.join(KNOWN_KINDS)}" in line
    with pytest.raises(ConfigError, match=r"\[sources\.mystery\] is not a kind of source NeoSafe knows"):
        load_sources(path)


def test_every_kind_of_source_in_the_data_contract_is_accepted(tmp_path):
    sources = load_sources(sources_file(tmp_path, *(kind for kind in KNOWN_KINDS if kind != "neonatal")))

    assert [s.name for s in sources] == ["neonatal", *(kind for kind in KNOWN_KINDS if kind != "neonatal")]


def test_serve_with_no_sign_in_method_says_to_set_one(tmp_path, settings):
    line = refused(tmp_path, "serve", DATABASE_URL=settings.database_url, NEOSAFE_DEMO_USERS="false")

    assert "no sign-in method" in line
    assert "NEOSAFE_OIDC_ISSUER" in line
    assert "NEOSAFE_DEMO_USERS=true" in line


def test_settings_with_single_sign_on_or_demo_users_need_no_more_sign_in(tmp_path):
    base = {"secret_key": SECRET, "database_url": f"sqlite+aiosqlite:///{tmp_path / 'neosafe.db'}"}

    Settings(**base, demo_users=True).require_sign_in()
    Settings(**base, oidc_issuer="https://sign-in.example.nhs.uk").require_sign_in()
    with pytest.raises(ConfigError, match="NEOSAFE_OIDC_ISSUER"):
        Settings(**base).require_sign_in()


def test_serve_with_everything_in_place_starts(tmp_path, settings):
    """The checks before serving pass a sound deployment: it migrates (as told to) and answers /healthz."""
    port = closed_port()
    env = environment(tmp_path, DATABASE_URL=settings.database_url, NEOSAFE_MIGRATE_ON_START="true")
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen([NEOSAFE, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
