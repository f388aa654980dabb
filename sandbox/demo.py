"""What `neosafe demo` runs, composed where a test can build it: the sandbox sources, CP-IS, PDS, the Patient Flags
API and MESH, and the settings that point NeoSafe at them.

- Four sekmet FHIR servers (neonatal, maternity, social-care, police-gp) as generic FHIR sources.
- The CP-IS sandbox (sandbox/cpis.py) as the cpis source, asked in CP-IS's own shape (`profile = "cpis"`). It
  accepts one user token, made afresh for each run (`cpis_token`); NeoSafe gives it to demo sign-ins only, kept with
  the sign-in in the database as a CIS2 token is (app/main.py create_app(demo_cis2_token=...)). It exists in this
  process's memory and the demo's own database only, and is never written anywhere else.
- The PDS sandbox (sandbox/pds.py) as the pds source and the Patient Flags sandbox (sandbox/flags.py) as the
  patient-flags source, each accepting the same demo-only token, so a demo sign-in sees NHS-number verification, PDS
  traces and national flags. If either cannot start, the demo still starts without it (its source left out, so it
  is never asked) and says so; `national_off` says why.
- NHS England's MESH sandbox (sandbox/mesh.py) with the demo mailboxes, and NeoSafe delivering over it. If it cannot
  start (no uv, offline), the demo still starts without MESH delivery; `mesh_off` says why.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import Settings

from .cpis import CpisSandbox
from .flags import FlagsSandbox
from .mesh import DEMO_MAILBOXES, UNIT_MAILBOX, MeshSandbox
from .national import NationalSandbox
from .pds import PdsSandbox
from .servers import SOURCE_KINDS, WRITE_BACK, Sandbox

__all__ = ["DEMO_DELIVERY_INTERVAL_S", "Demo", "demo_sources_toml", "running_demo"]

FHIR_KINDS = tuple(k for k in SOURCE_KINDS if k != "cpis")  # CP-IS is the CP-IS sandbox, not a sekmet server
DEMO_DELIVERY_INTERVAL_S = 5.0  # a discharge reaches the demo mailboxes within seconds
# As the README's example: the unit counts discharge as scheduled care, admission and transfer as unscheduled.
CPIS_TABLE = 'profile = "cpis"\nunscheduled_access = { admission = true, transfer = true, discharge = false }\n'


def demo_sources_toml(fhir_urls: dict[str, str], cpis_url: str, national: dict[str, str] | None = None) -> str:
    """The demo's sources file: each sekmet server a generic FHIR source (the neonatal one written back to), the
    CP-IS sandbox as the cpis source, asked in CP-IS's shape, and each of `national` (profile -> URL: "pds",
    "patient-flags") as the source of that name and profile."""
    lines = []
    for name, url in fhir_urls.items():
        if name != "cpis":
            lines += [f"[sources.{name}]", f'base_url = "{url}"', "timeout_s = 10.0"]
            lines += ["write_back = true", ""] if name == WRITE_BACK else [""]
    for profile, url in (national or {}).items():
        lines += [f"[sources.{profile}]", f'profile = "{profile}"', f'base_url = "{url}"', "timeout_s = 10.0", ""]
    return "\n".join([*lines, "[sources.cpis]", f'base_url = "{cpis_url}"', "timeout_s = 10.0", CPIS_TABLE])


@dataclass
class Demo:
    """The running demo sandboxes; `settings(...)` is NeoSafe configured for them."""

    work_dir: Path
    sources_file: Path
    cpis: CpisSandbox
    cpis_token: str  # the one user token the CP-IS, PDS and Patient Flags sandboxes accept: for demo sign-ins only
    mesh: MeshSandbox | None
    mesh_off: str | None  # why MESH delivery is off, when it is
    pds: PdsSandbox | None = None
    flags: FlagsSandbox | None = None
    national_off: tuple[str, ...] = ()  # why the PDS or Patient Flags sandbox is not running, when one is not

    def settings(self, *, secret_key: str, database_url: str | None = None) -> Settings:
        """NeoSafe for the demo: demo users, SQLite in the demo's folder, and MESH delivery when the sandbox runs."""
        mesh = (
            {
                "mesh_url": self.mesh.url,
                "mesh_mailbox": UNIT_MAILBOX,
                "mesh_password": self.mesh.password(UNIT_MAILBOX),
                "mesh_shared_key": self.mesh.shared_key,
                "delivery_interval_s": DEMO_DELIVERY_INTERVAL_S,
            }
            if self.mesh is not None
            else {}
        )
        return Settings(
            sources_file=self.sources_file,
            database_url=database_url or f"sqlite+aiosqlite:///{self.work_dir / 'neosafe.db'}",
            secret_key=secret_key,
            demo_users=True,
            migrate_on_start=True,
            **mesh,
        )

    def mesh_lines(self) -> list[str]:
        """What the demo says about MESH: each mailbox and how to read it, or that delivery is off and why."""
        if self.mesh is None:
            return [
                f"MESH delivery is off: {self.mesh_off}",
                "  Handovers are written to the unit's record as usual; nothing is sent to the GP practice, the",
                "  health visiting team or the community neonatal team.",
            ]
        lines = [
            f"MESH sandbox {self.mesh.url}: NeoSafe sends each discharge handover from {UNIT_MAILBOX} to",
            "  the recipients' mailboxes. To see what each received, in another terminal in this checkout:",
            f"  export NEOSAFE_MESH_URL={self.mesh.url} NEOSAFE_MESH_SHARED_KEY={self.mesh.shared_key}",
        ]
        for mailbox, (name, ods) in self.mesh.mailboxes.items():
            if mailbox == UNIT_MAILBOX:
                continue
            lines += [
                f"  {mailbox}  {name} (ODS {ods})",
                f"    NEOSAFE_MESH_INBOX_PASSWORD={self.mesh.password(mailbox)} uv run --locked neosafe mesh inbox "
                f"{mailbox}",
            ]
        return lines


def _national(stack: ExitStack, start: Callable[[], NationalSandbox]) -> tuple[Any, str]:
    """A national API sandbox started, or None and why not (a port taken, a thread that would not start)."""
    try:
        return stack.enter_context(start()), ""
    except (RuntimeError, OSError) as exc:
        return None, str(exc)


def _mesh(work_dir: Path, stack: ExitStack, start: Callable[[Path], MeshSandbox]) -> tuple[MeshSandbox | None, str]:
    """The MESH sandbox started, or None and why not (it needs uv, and the package registry the first time)."""
    try:
        return stack.enter_context(start(work_dir)), ""
    except (RuntimeError, OSError) as exc:
        return None, f"the MESH sandbox could not start ({exc})"


@contextmanager
def running_demo(
    work_dir: Path,
    *,
    fhir: Callable[[Path], AbstractContextManager[Sandbox]] = lambda work: Sandbox(work, kinds=FHIR_KINDS),
    mesh: Callable[[Path], AbstractContextManager[MeshSandbox]] = MeshSandbox,
    pds: Callable[..., NationalSandbox] = PdsSandbox,
    flags: Callable[..., NationalSandbox] = FlagsSandbox,
    say: Callable[[str], None] = print,
) -> Iterator[Demo]:
    """Start the demo's sandboxes in `work_dir`; stops them all when the block ends. `fhir` and `mesh` make the
    sekmet servers and the MESH sandbox (a test passes ones already running, or a MESH sandbox that cannot start);
    `pds` and `flags` make the PDS and Patient Flags sandboxes from the accepted `tokens` (or one that cannot start)."""
    token = secrets.token_urlsafe(32)
    with ExitStack() as stack:
        say(f"Starting the sandbox FHIR sources ({', '.join(FHIR_KINDS)}), CP-IS, PDS and the Patient Flags API...")
        servers = stack.enter_context(fhir(work_dir / "sources"))
        cpis = stack.enter_context(CpisSandbox(tokens=frozenset({token})))
        running: dict[str, Any] = {}
        off: list[str] = []
        for profile, what, start in (("pds", "PDS", pds), ("patient-flags", "Patient Flags API", flags)):
            running[profile], why = _national(stack, lambda start=start: start(tokens=frozenset({token})))
            if running[profile] is None:
                off.append(f"The {what} sandbox could not start ({why}): it is left out, so it is never asked.")
        say(f"Starting the MESH sandbox (mailboxes {', '.join(m for m in DEMO_MAILBOXES if m != UNIT_MAILBOX)})...")
        (mesh_work := work_dir / "mesh").mkdir(parents=True, exist_ok=True)
        started, why = _mesh(mesh_work, stack, mesh)
        sources_file = work_dir / "sources.toml"
        national = {profile: sandbox.url for profile, sandbox in running.items() if sandbox is not None}
        sources_file.write_text(demo_sources_toml(servers.urls, cpis.url, national), encoding="utf-8")
        labels = {"pds": "PDS FHIR API", "patient-flags": "Patient Flags API"}
        shown = {p: f"{u} ({labels[p]})" for p, u in national.items()}
        for name, url in {**servers.urls, "cpis": f"{cpis.url} (CP-IS API)", **shown}.items():
            say(f"  {name:13} {url}")
        for line in off:
            say(line)
        yield Demo(
            work_dir,
            sources_file,
            cpis,
            token,
            started,
            why or None,
            pds=running["pds"],
            flags=running["patient-flags"],
            national_off=tuple(off),
        )
