"""The `neosafe` command: demo, serve, demo-token, outbox, watch, reconcile, db."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from pydantic import ValidationError

from app.config import ConfigError, RuntimeSettings, Settings

if TYPE_CHECKING:
    from app.checkpoints import Checkpoints

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


def _serve(settings: Settings, host: str, port: int, *, demo_cis2_token: str | None = None) -> None:
    from app.main import create_app

    app = create_app(settings, demo_cis2_token=demo_cis2_token)
    # log_config=None: uvicorn's own lines go through the root logger's redacting formatter (see _configure_logging).
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info", log_config=None)


def _demo(args: argparse.Namespace) -> None:
    if importlib.util.find_spec("sandbox") is None or importlib.util.find_spec("sekmet") is None:
        raise ConfigError(
            "the demo's sandbox FHIR servers are not installed here (the production install leaves them out): "
            "run `uv run --locked neosafe demo` in a checkout of NeoSafe"
        )
    from sandbox.demo import running_demo

    work = Path(tempfile.mkdtemp(prefix="neosafe-demo-"))
    with running_demo(work, say=lambda line: print(line, flush=True)) as demo:
        settings = demo.settings(secret_key=_demo_secret(), database_url=os.environ.get("DATABASE_URL"))
        print("\n".join(demo.mesh_lines()))
        print(f"NeoSafe demo: open http://{args.host}:{args.port}/ and sign in as a demo user. Ctrl-C stops it.")
        _serve(settings, args.host, args.port, demo_cis2_token=demo.cpis_token)


def _serve_command(args: argparse.Namespace) -> None:
    overrides = {"sources_file": args.sources} if args.sources else {}
    settings = Settings(**overrides)
    settings.sources()  # fail now, with the source named, rather than on the first request
    _serve(settings, args.host, args.port)


@asynccontextmanager
async def _services(args: argparse.Namespace) -> AsyncIterator[Checkpoints]:
    """The application layer without serving pages, for commands that work on its database and sources."""
    from app.checkpoints import Checkpoints

    overrides = {"sources_file": args.sources} if args.sources else {}
    async with Checkpoints.wire(Settings(**overrides)).running() as checkpoints:
        yield checkpoints


def _stop_on_signals(stop: Callable[[], None]) -> None:
    """Ctrl-C or SIGTERM (a container stopping) sets the job's stopping event, so it stops after the pass in flight,
    as it says: a cancellation of the main task, Python's default, can be lost in a wait that ends at the same
    moment, leaving the job running. A second signal interrupts it at once, as Python's default does."""
    loop = asyncio.get_running_loop()

    def first(sig: signal.Signals) -> None:
        stop()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first, sig)


async def _outbox(args: argparse.Namespace) -> None:
    from app.assessments import outbox_counts

    async with _services(args) as services:
        if args.action == "status":
            counts = await outbox_counts(services.sessions)
            for state in ("queued", "retrying", "needs-attention", "sent"):
                print(f"{state:16} {counts.get(state, 0)}")
            return
        worker = services.outbox_worker()
        if args.once:
            print(f"tried {await worker.run_once()} entries")
            return
        _stop_on_signals(worker.stop)
        print("Sending queued assessments; Ctrl-C stops after the send in flight.", flush=True)
        await worker.run()


async def _watch(args: argparse.Namespace) -> None:
    from app.checkpoints import Watcher

    async with _services(args) as services:
        if args.once:
            done = await services.watch_once()
            if not done.ran:
                print("not run: another instance watched within this interval")
            elif done.census_error:
                raise SystemExit(f"not watched: the unit's record could not be read ({done.census_error})")
            else:
                print(f"{done.babies} babies watched, {done.found} new findings")
                if (check := done.task_check) is not None:
                    seen = f"{check.seen} checked, {check.closed} closed"
                    print(f"tasks: not checked ({check.error})" if check.error else f"tasks: {seen}")
            return
        watcher = Watcher(services)
        _stop_on_signals(watcher.stop)
        print("Watching the babies on the unit; Ctrl-C stops after the pass in flight.", flush=True)
        await watcher.run()


async def _reconcile(args: argparse.Namespace) -> None:
    from app.assessments import reconcile, targets_written

    async with _services(args) as services:
        async with services.client(services.write_back) as client:
            checked, findings = await reconcile(services.sessions, client)
        for target in await targets_written(services.sessions):  # a launch's EPR: each checked on its own server
            source = services.target(target)
            if source is None:
                raise SystemExit(f"checklists were written to {target}, which the sources file no longer has")
            async with services.client(source) as client:
                more, found = await reconcile(services.sessions, client, target=target)
            checked, findings = checked + more, findings + found
    for finding in findings:
        print(finding)
    problems = [f for f in findings if f.problem in ("missing", "duplicated")]
    waiting = len(findings) - len(problems)
    print(f"{checked} assessments checked: {len(problems)} missing or duplicated, {waiting} not sent yet")
    if problems:
        raise SystemExit(1)


async def _mesh_inbox(args: argparse.Namespace) -> None:
    from app.delivery.inbox import inbox_lines

    # The inbox signs nothing: it needs no NEOSAFE_SECRET_KEY (the demo prints this command without one).
    settings = Settings(secret_key=os.environ.get("NEOSAFE_SECRET_KEY") or secrets.token_urlsafe(48))
    unit = bool(settings.mesh_mailbox) and args.mailbox.upper() == settings.mesh_mailbox.upper()
    password = settings.mesh_password if unit else os.environ.get(args.password_env, "")
    if not settings.mesh_url or not password:
        raise SystemExit(f"set NEOSAFE_MESH_URL and {'NEOSAFE_MESH_PASSWORD' if unit else args.password_env}")
    print("\n".join(await inbox_lines(settings, args.mailbox.upper(), password)))


async def _db(args: argparse.Namespace) -> None:
    from sqlalchemy import make_url

    from app.assessments import head_revision, make_engine, upgrade

    url = RuntimeSettings().database_url
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"{make_url(url).render_as_string(hide_password=True)} is at revision {head_revision()}")


def _configure_logging(log_format: str) -> None:
    """JSON lines for a log collector, or text for a person; both redact patient identifiers (app.web.logging)."""
    from app.web.logging import JsonFormatter, TextFormatter

    if log_format == "auto":
        log_format = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry query strings: patient data


def _demo_token(args: argparse.Namespace) -> None:
    from app.checkpoints import DEMO_USERS
    from app.web import issue_token

    print(issue_token(DEMO_USERS[args.role], secret=_demo_secret()))


def _checklists_lint(args: argparse.Namespace) -> None:
    """One line per problem on stderr and exit 1; exit 0 when every checklist is sound."""
    from app.forms import lint_checklists

    folders = {
        name: Path(os.environ.get(f"NEOSAFE_{name.upper()}") or Settings.model_fields[name].default)
        for name in ("checklists_dir", "mappings_dir")
    }
    checklists = args.checklists or folders["checklists_dir"]
    mappings = args.mappings or folders["mappings_dir"]
    problems = [str(p) for p in lint_checklists(checklists, mappings)]
    if not problems:  # the rules that name checklist items, read as start-up reads them
        problems = _rule_problems(checklists, mappings)
    for problem in problems:
        print(f"neosafe checklists lint: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    print(f"neosafe checklists lint: {len(list(checklists.rglob('*.json')))} checklists, no problems")


def _checklists_appendix(args: argparse.Namespace) -> None:
    """Draw the README's appendix from the checklists in use; with --check, exit 1 if it differs."""
    from app.forms import load_checklists
    from app.forms.appendix import with_appendix

    folder = args.checklists or Path(
        os.environ.get("NEOSAFE_CHECKLISTS_DIR") or Settings.model_fields["checklists_dir"].default
    )
    readme = folder / "README.md"
    current = readme.read_text(encoding="utf-8")
    drawn = with_appendix(current, load_checklists(folder))
    if args.check:
        if drawn != current:
            print(
                f"neosafe checklists appendix: {readme} is out of date: run `neosafe checklists appendix`",
                file=sys.stderr,
            )
            raise SystemExit(1)
        return
    readme.write_text(drawn, encoding="utf-8")
    print(f"neosafe checklists appendix: {readme} drawn again")


def _rule_problems(checklists_dir: Path, mappings_dir: Path) -> list[str]:
    """tasks.toml, handover.toml and observation-focus.toml against the checklists: what NeoSafe would refuse to
    start with."""
    from app.forms import load_checklists, load_focus_rules, load_task_rules
    from app.handover import load_recipients, load_sections

    loaded = load_checklists(checklists_dir)
    problems = []
    rules = (
        (load_task_rules, "tasks.toml"),
        (load_sections, "handover.toml"),
        (load_recipients, "handover.toml"),
        (load_focus_rules, "observation-focus.toml"),
    )
    for load, name in rules:
        try:
            load(mappings_dir / name, loaded)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def _check_before_serving(args: argparse.Namespace) -> None:
    """What `neosafe serve` would otherwise meet only inside uvicorn (a start-up traceback): the sources file, a
    sign-in method, and the database reachable, writable and at this NeoSafe's revision. ConfigError if not."""
    from app.assessments import check_database

    settings = Settings(**({"sources_file": args.sources} if args.sources else {}))
    settings.sources()
    settings.require_sign_in()
    asyncio.run(check_database(settings.database_url, migrate=settings.migrate_on_start))


def _problem(exc: ConfigError | ValidationError) -> str:
    """One line for the deployer, `neosafe: ` and what is wrong; a setting's validation errors are joined, without
    the values (they may be secrets)."""
    from app.assessments import DatabaseUnavailable, SchemaNotReady

    if isinstance(exc, ValidationError):
        text = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or exc.title}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
    else:
        text = str(exc)
    kind = "database problem" if isinstance(exc, DatabaseUnavailable | SchemaNotReady) else "configuration problem"
    return f"neosafe: {kind}: {' '.join(text.split())}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="neosafe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo_help = (
        "run NeoSafe with sandbox FHIR sources, CP-IS, PDS, the Patient Flags API and MESH, SQLite and demo users"
    )
    demo = commands.add_parser(
        "demo",
        help=demo_help,
        description=f"{demo_help[0].upper()}{demo_help[1:]}. Without uv or the package registry, MESH delivery is "
        "off and the demo says why; a national sandbox that cannot start is left out, and said.",
    )
    serve = commands.add_parser("serve", help="run NeoSafe against the FHIR servers in a sources file")
    serve.add_argument("--sources", type=Path, help="sources TOML file (default: $NEOSAFE_SOURCES)")
    for command in (demo, serve):
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
    token = commands.add_parser("demo-token", help="print a bearer token for a demo user, for the API")
    token.add_argument(
        "--role", required=True, choices=["nurse", "discharge-coordinator", "community-nurse", "safeguarding-lead"]
    )

    outbox = commands.add_parser("outbox", help="the queue of assessments waiting to reach the FHIR record")
    outbox.add_argument("action", choices=["run", "status"])
    outbox.add_argument("--once", action="store_true", help="with run: one pass, then stop")
    watch = commands.add_parser(
        "watch", help="watch the babies on the unit for new safeguarding information (instead of `serve` doing it)"
    )
    watch.add_argument("--once", action="store_true", help="one pass, then stop")
    db = commands.add_parser("db", help="the database schema: `neosafe db upgrade` applies the migrations")
    db.add_argument("action", choices=["upgrade"])
    reconcile = commands.add_parser("reconcile", help="report assessments missing or duplicated on the FHIR server")
    mesh = commands.add_parser("mesh", help="MESH delivery: `neosafe mesh inbox <mailbox>` lists what it received")
    mesh.add_argument("action", choices=["inbox"])
    mesh.add_argument("mailbox", help="a MESH mailbox id")
    mesh.add_argument("--password-env", default="NEOSAFE_MESH_INBOX_PASSWORD", help="for a mailbox not the unit's")
    for command in (outbox, watch, reconcile):
        command.add_argument("--sources", type=Path, help="sources TOML file (default: $NEOSAFE_SOURCES)")

    checklists = commands.add_parser("checklists", help="the checklists (FHIR Questionnaires)")
    checklist_actions = checklists.add_subparsers(dest="action", required=True)
    lint = checklist_actions.add_parser(
        "lint", help="check every checklist (R4, links, expressions, codes); exit 1 with one line per problem"
    )
    appendix = checklist_actions.add_parser(
        "appendix", help="draw again the README's list of every question from the checklists"
    )
    appendix.add_argument("--check", action="store_true", help="only compare: exit 1 if the README is out of date")
    for command in (lint, appendix):
        command.add_argument(
            "--checklists", type=Path, help="folder of Questionnaires (default: $NEOSAFE_CHECKLISTS_DIR)"
        )
    lint.add_argument("--mappings", type=Path, help="folder of code lists (default: $NEOSAFE_MAPPINGS_DIR)")

    args = parser.parse_args(argv)
    try:
        _configure_logging(RuntimeSettings().log_format)
        commands_run = {
            "demo": _demo,
            "serve": _serve_command,
            "demo-token": _demo_token,
            "checklists": lambda a: _checklists_appendix(a) if a.action == "appendix" else _checklists_lint(a),
            "outbox": lambda a: asyncio.run(_outbox(a)),
            "watch": lambda a: asyncio.run(_watch(a)),
            "reconcile": lambda a: asyncio.run(_reconcile(a)),
            "db": lambda a: asyncio.run(_db(a)),
            "mesh": lambda a: asyncio.run(_mesh_inbox(a)),
        }
        if args.command == "serve":
            _check_before_serving(args)
        commands_run[args.command](args)
    except (ConfigError, ValidationError) as exc:
        print(_problem(exc), file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass
