"""docker/: the image and the compose file a trust tries NeoSafe with. No engine runs here, so nothing is built:
the files are checked as text, the sources file by NeoSafe's own loader, and the compose file by `docker compose
config` (or the older `docker-compose config`) where one is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from app.config import PROJECT_ROOT, Settings, load_sources

DOCKER = PROJECT_ROOT / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (DOCKER / "compose.yaml").read_text(encoding="utf-8")


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_the_image_is_slim_pinned_locked_unprivileged_and_health_checked():
    base = re.search(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base)
    assert "uv sync --locked --no-dev" in DOCKERFILE
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", DOCKERFILE, re.MULTILINE)
    assert 'ENTRYPOINT ["neosafe"]' in DOCKERFILE and 'CMD ["serve"' in DOCKERFILE


def test_the_image_holds_every_folder_neosafe_reads_at_run_time():
    folders = {Settings.model_fields[name].default.name for name in ("checklists_dir", "mappings_dir", "templates_dir")}
    copied = set(re.findall(r"^COPY (\S+) \./", DOCKERFILE, re.MULTILINE))
    assert folders | {"app", "migrations", "alembic.ini"} <= copied


def test_the_compose_file_pins_its_images_and_publishes_only_on_loopback():
    images = re.findall(r"^\s+image: (\S+)", COMPOSE, re.MULTILINE)
    assert {i.split(":")[0] for i in images} == {"neosafe", "postgres", "hapiproject/hapi"}
    assert all(re.search(r":v?\d+(\.\d+)+", i) for i in images if not i.startswith("neosafe"))
    published = re.findall(r'^\s+- "(\S+:\d+:\d+)"', COMPOSE, re.MULTILINE)
    assert published and all(p.startswith("127.0.0.1:") for p in published)


def test_the_compose_sources_file_is_one_neosafe_accepts():
    sources = load_sources(DOCKER / "sources.toml")

    assert [(s.name, s.url, s.write_back) for s in sources] == [("neonatal", "http://hapi:8080/fhir", True)]


@pytest.mark.parametrize("secret", ["", "x" * 48], ids=["without-secret", "with-secret"])
def test_docker_compose_config_accepts_the_compose_file(secret):
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {**os.environ, "NEOSAFE_SECRET_KEY": secret}
    compose = [*command, "-f", str(DOCKER / "compose.yaml"), "config"]

    checked = subprocess.run([*compose, "--quiet"], capture_output=True, text=True, env=env, check=False)
    services = subprocess.run([*compose, "--services"], capture_output=True, text=True, env=env, check=False)

    assert checked.returncode == 0, checked.stderr
    assert set(services.stdout.split()) == {"neosafe", "postgres", "hapi"}
