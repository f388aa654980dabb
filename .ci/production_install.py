"""Prove the production install serves: installed as docker/Dockerfile installs it, and with `pip install .`.

The two installs are labelled `image` (`uv sync --locked --no-dev` in a copy of only what docker/Dockerfile
copies: no tests, no sandbox, no test kit) and `pip` (`pip install .`), each in an environment of its own,
which must then hold no dev or sandbox package. Each is served with `neosafe serve` against the sandbox's FHIR
servers (started here, from the checkout) after `neosafe db upgrade`, and must answer /healthz, /readyz and one
authenticated picture of the Case V analogue.

    uv run --locked python .ci/production_install.py        # about two minutes
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from sandbox import Sandbox
from testkit.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["pyproject.toml", "uv.lock", "README.md", "app", "checklists", "fhir_mappings", "templates", "migrations"]
NOT_SHIPPED = ["sandbox", "testkit", "sekmet", "pytest", "playwright", "ruff"]
CASE_V = "9990101000"
SERVE_TIMEOUT_S = 120.0


def run(command: list[str], **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def copy_of_checkout(work: Path) -> Path:
    """What the image copies (docker/Dockerfile's COPY lines), and nothing else."""
    tree = work / "opt-neosafe"
    tree.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "_data"))
        else:
            shutil.copy2(source, tree / name)
    return tree


def install_as_image(work: Path) -> Path:
    tree = copy_of_checkout(work)
    venv = work / "image-venv"
    run(["uv", "sync", "--locked", "--no-dev"], cwd=tree, env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)})
    return venv / "bin"


def install_with_pip(work: Path) -> Path:
    """`pip install .` of the checkout: the wheel carries app/ and the folders it reads (app/_data)."""
    venv = work / "pip-venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)])
    return venv / "bin"


def check_nothing_extra(bin_dir: Path, label: str) -> None:
    code = "import importlib.util, sys; print(' '.join(n for n in sys.argv[1:] if importlib.util.find_spec(n)))"
    present = run([str(bin_dir / "python"), "-c", code, *NOT_SHIPPED], cwd=bin_dir).split()
    if present:
        sys.exit(f"{label}: the production install holds {', '.join(present)}")


def serves(bin_dir: Path, sandbox: Sandbox, work: Path, label: str) -> None:
    """db upgrade, serve, then /healthz, /readyz and one picture with a bearer token."""
    sources = work / f"{label}-sources.toml"
    sources.write_text(sandbox.sources_toml(), encoding="utf-8")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / f'{label}.db'}",
        "NEOSAFE_SECRET_KEY": secrets.token_urlsafe(48),
        "NEOSAFE_DEMO_USERS": "true",
        "NEOSAFE_SOURCES": str(sources),
        "NEOSAFE_LOG_FORMAT": "json",
    }
    env.pop("VIRTUAL_ENV", None)
    neosafe = str(bin_dir / "neosafe")
    run([neosafe, "db", "upgrade"], env=env, cwd=work)
    token = run([neosafe, "demo-token", "--role", "nurse"], env=env, cwd=work).strip()
    port = free_port()
    log = (work / f"{label}-serve.log").open("wb")
    server = subprocess.Popen(
        [neosafe, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=work, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            if server.poll() is not None:
                sys.exit(f"{label}: neosafe serve exited:\n{(work / f'{label}-serve.log').read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"{label}: neosafe serve did not answer /healthz within {SERVE_TIMEOUT_S:g} s")
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz", timeout=30)
        if ready.status_code != 200:
            sys.exit(f"{label}: /readyz answered {ready.status_code}: {ready.text}")
        picture = httpx.get(
            f"{base}/api/patients/{CASE_V}/picture", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        if picture.status_code != 200 or not picture.json()["records"]:
            sys.exit(f"{label}: the picture answered {picture.status_code}: {picture.text[:500]}")
        unauthenticated = httpx.get(f"{base}/api/patients/{CASE_V}/picture", timeout=30)
        if unauthenticated.status_code != 401:
            sys.exit(f"{label}: the picture without a token answered {unauthenticated.status_code}, not 401")
        found = len(picture.json()["records"])
        print(
            f"production install ({label}): /healthz 200, /readyz 200, picture 200 with {found} records, 401 unsigned"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="neosafe-production-") as folder:
        work = Path(folder)
        installs = {"image": install_as_image(work), "pip": install_with_pip(work)}
        for label, bin_dir in installs.items():
            check_nothing_extra(bin_dir, label)
        with Sandbox(work / "sources") as sandbox:
            for label, bin_dir in installs.items():
                serves(bin_dir, sandbox, work, label)


if __name__ == "__main__":
    main()
