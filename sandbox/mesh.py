"""A MESH sandbox on 127.0.0.1 for `neosafe demo` and the tests: NHS England's mesh-sandbox, with NeoSafe's mailboxes.

mesh-sandbox cannot live in NeoSafe's environment (it pins another FastAPI), so it runs in its own, built by
`uv tool run --from mesh-sandbox==<MESH_SANDBOX>` (NEOSAFE_MESH_SANDBOX_PYTHON may name a ready interpreter that
has it installed instead, e.g. in CI). It reads its mailboxes from its package's data folder only; the boot script
points that at a folder written here, with the unit's mailbox and the demo GP practice, health visiting team and
community neonatal team (the same ids as fhir_mappings/delivery.toml). Full MESH authentication (AUTH_MODE=full)
with a shared key of the sandbox's own, and an in-memory store: what each mailbox received lasts for the run.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from testkit.ports import free_port

from .servers import start_timeout_s

__all__ = ["DEMO_MAILBOXES", "MESH_SANDBOX", "UNIT_MAILBOX", "MeshSandbox"]

MESH_SANDBOX = "1.0.137"
UNIT_MAILBOX = "NSUNIT01"  # the neonatal unit's own mailbox: NeoSafe sends from it
# mailbox id -> (name, ODS code); the demo recipients of fhir_mappings/delivery.toml
DEMO_MAILBOXES = {
    UNIT_MAILBOX: ("Riverside Neonatal Unit", "RNS01"),
    "NSGP0001": ("Millbrook Medical Practice", "Y90001"),
    "NSHV0001": ("Riverside Health Visiting Team", "RNSHV"),
    "NSCN0001": ("Riverside Community Neonatal Team", "RNSCN"),
}
WORKFLOWS = ("GPFED_CONSULT_REPORT", "GPFED_CONSULT_REPORT_ACK")

# Run in mesh-sandbox's own interpreter: its canned data folder (mailboxes.jsonl, workflows.jsonl) becomes ours.
_BOOT = """
import os, sys, uvicorn
from mesh_sandbox.store.canned_store import CannedStore
_initialise = CannedStore.initialise
def initialise(self):
    self._canned_data_dir = os.environ["NEOSAFE_MESH_DATA"]
    _initialise(self)
CannedStore.initialise = initialise
tls = {}
if os.environ.get("NEOSAFE_MESH_TLS_CERT"):  # HTTPS, and mutual TLS: a client certificate the CA signed is required
    import ssl
    tls = {"ssl_certfile": os.environ["NEOSAFE_MESH_TLS_CERT"], "ssl_keyfile": os.environ["NEOSAFE_MESH_TLS_KEY"],
           "ssl_ca_certs": os.environ["NEOSAFE_MESH_TLS_CA"], "ssl_cert_reqs": ssl.CERT_REQUIRED}
uvicorn.run("mesh_sandbox.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", **tls)
"""


def _command() -> list[str]:
    python = os.environ.get("NEOSAFE_MESH_SANDBOX_PYTHON")
    if python:
        return [python, "-c", _BOOT]
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("the MESH sandbox needs uv (or NEOSAFE_MESH_SANDBOX_PYTHON naming a Python with it)")
    return [uv, "tool", "run", "--quiet", "--from", f"mesh-sandbox=={MESH_SANDBOX}", "python", "-c", _BOOT]


def _last_line(log: Path) -> str:
    """The log's last line, e.g. uv's reason for not building the environment (offline): ": <line>", or ""."""
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return f": {lines[-1][:300]}" if lines else ""


@dataclass
class MeshSandbox:
    """Start with `with MeshSandbox(work_dir) as mesh:`; `mesh.url`, `mesh.shared_key`, `mesh.password(mailbox)`."""

    work_dir: Path
    mailboxes: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(DEMO_MAILBOXES))
    shared_key: str = field(default_factory=lambda: os.urandom(12).hex())
    port: int = field(default_factory=free_port)
    # Served over HTTPS with mutual TLS: (server certificate, its key, the CA that signs clients' certificates).
    # mesh-sandbox has no TLS of its own; uvicorn, which serves it, does.
    tls: tuple[Path, Path, Path] | None = None
    client_cert: tuple[Path, Path] | None = None  # the certificate this module's own probe presents, with tls
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def password(self, mailbox: str) -> str:
        return f"pw-{mailbox.lower()}"

    def __enter__(self) -> MeshSandbox:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _write_data(self) -> Path:
        data = self.work_dir / "mesh-data"
        (data / "mailboxes").mkdir(parents=True, exist_ok=True)
        rows = [
            {"mailbox_id": box, "mailbox_name": name, "ods_code": ods, "org_code": ods, "org_name": name,
             "billing_entity": "England", "password": self.password(box)}
            for box, (name, ods) in self.mailboxes.items()
        ]  # fmt: skip
        (data / "mailboxes.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
        every = sorted(self.mailboxes)
        workflows = [{"workflow_id": w, "senders": every, "receivers": every} for w in WORKFLOWS]
        (data / "workflows.jsonl").write_text("\n".join(json.dumps(w) for w in workflows) + "\n", encoding="utf-8")
        return data

    def start(self) -> None:
        env = {
            **os.environ,
            "NEOSAFE_MESH_DATA": str(self._write_data()),
            "STORE_MODE": "memory",
            "AUTH_MODE": "full",
            "SHARED_KEY": self.shared_key,
            "ENV": "local",
        }
        probe: dict = {}
        if self.tls:
            cert, key, ca = self.tls
            env |= {
                "NEOSAFE_MESH_TLS_CERT": str(cert),
                "NEOSAFE_MESH_TLS_KEY": str(key),
                "NEOSAFE_MESH_TLS_CA": str(ca),
            }
            context = ssl.create_default_context(cafile=str(ca))
            if self.client_cert:
                context.load_cert_chain(*map(str, self.client_cert))
            probe = {"verify": context}
        log = self.work_dir / "mesh-sandbox.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*_command(), str(self.port)], cwd=self.work_dir, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        bound_s = start_timeout_s()
        deadline = time.monotonic() + bound_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the MESH sandbox exited{_last_line(log)}; see {log}")
            try:
                if httpx.get(f"{self.url}/messageexchange/_ping", timeout=5, **probe).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the MESH sandbox did not answer within {bound_s:g} s; see {log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
