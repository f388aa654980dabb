"""The `neosafe` command: demo, serve, demo-token."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import tempfile
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from app.config import ConfigError, Settings

__all__ = ["main"]

DEMO_SECRET = Path.home() / ".neosafe" / "demo-secret"


def _demo_secret() -> str:
    """A secret kept for the demo, so `neosafe demo-token` signs tokens the demo server accepts."""
    if os.environ.get("NEOSAFE_SECRET_KEY"):
        return os.environ["NEOSAFE_SECRET_KEY"]
    if not DEMO_SECRET.exists():
        DEMO_SECRET.parent.mkdir(parents=True, exist_ok=True)
        DEMO_SECRET.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        DEMO_SECRET.chmod(0o600)
    return DEMO_SECRET.read_text(encoding="utf-8").strip()


def _serve(settings: Settings, host: str, port: int) -> None:
    from app.main import create_app

    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_level="info")


def _demo(args: argparse.Namespace) -> None:
    from app.sandbox import Sandbox

    work = Path(tempfile.mkdtemp(prefix="neosafe-demo-"))
    print("Starting the sandbox FHIR sources (neonatal, maternity, social-care, cpis, police-gp)...", flush=True)
    with Sandbox(work / "sources") as sandbox:
        sources_file = work / "sources.toml"
        sources_file.write_text(sandbox.sources_toml(), encoding="utf-8")
        settings = Settings(
            sources_file=sources_file,
            database_url=os.environ.get("DATABASE_URL", f"sqlite+aiosqlite:///{work / 'neosafe.db'}"),
            secret_key=_demo_secret(),
            demo_users=True,
        )
        for name, url in sandbox.urls.items():
            print(f"  {name:12} {url}")
        print(f"NeoSafe demo: open http://{args.host}:{args.port}/ and sign in as a demo user. Ctrl-C stops it.")
        _serve(settings, args.host, args.port)


def _serve_command(args: argparse.Namespace) -> None:
    overrides = {"sources_file": args.sources} if args.sources else {}
    settings = Settings(**overrides)
    settings.sources()  # fail now, with the source named, rather than on the first request
    _serve(settings, args.host, args.port)


def _demo_token(args: argparse.Namespace) -> None:
    from app.web import DEMO_USERS, issue_token

    print(issue_token(DEMO_USERS[args.role], secret=_demo_secret()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="neosafe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run NeoSafe with sandbox FHIR sources, SQLite and demo users")
    serve = commands.add_parser("serve", help="run NeoSafe against the FHIR servers in a sources file")
    serve.add_argument("--sources", type=Path, help="sources TOML file (default: $NEOSAFE_SOURCES)")
    for command in (demo, serve):
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
    token = commands.add_parser("demo-token", help="print a bearer token for a demo user, for the API")
    token.add_argument(
        "--role", required=True, choices=["nurse", "discharge-coordinator", "community-nurse", "safeguarding-lead"]
    )

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry query strings: patient data
    try:
        {"demo": _demo, "serve": _serve_command, "demo-token": _demo_token}[args.command](args)
    except (ConfigError, ValidationError) as exc:
        print(f"neosafe: configuration problem: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass
