"""Shared fixtures: the sandbox FHIR sources (real servers over HTTP), a real database, a live NeoSafe."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import oidc_provider_mock
import pytest

from app.config import Settings, SourceSettings, load_sources
from app.main import create_app
from app.web.deps import COOKIE
from sandbox import Sandbox
from tests.databases import Databases
from tests.servers import serving

SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Five sekmet FHIR servers on loopback, seeded with the synthetic families; once per run."""
    with Sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@contextmanager
def unseeded(work: Path, kinds: tuple[str, ...], **kwargs) -> Iterator[Sandbox]:
    """Sandbox servers of a test module's own, with no families: they hold only what that module writes, so it
    can count, restart or fail them without disturbing another test."""
    (work / "families").mkdir()
    with Sandbox(work / "sources", families_dir=work / "families", kinds=kinds, **kwargs) as running:
        yield running


def write_sources(sandbox: Sandbox, directory: Path, **kwargs) -> list[SourceSettings]:
    path = directory / "sources.toml"
    path.write_text(sandbox.sources_toml(**kwargs), encoding="utf-8")
    return load_sources(path)


@pytest.fixture(scope="session")
def sources(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> list[SourceSettings]:
    # 30 s, not the sandbox's usual 10: a sekmet server answers one request at a time (one lock over its store), and on
    # two busy cores a large transaction ahead of a search once took longer, turning a test's baby "not found".
    return write_sources(sandbox, tmp_path_factory.mktemp("sources"), timeout_s=30)


DATABASES = Databases(os.environ.get("NEOSAFE_TEST_DATABASE_URL"))


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """With NEOSAFE_TEST_DATABASE_URL, the PostgreSQL databases this run made go when it ends."""
    yield
    DATABASES.drop_all()


def make_settings(directory: Path) -> Settings:
    """Settings for a NeoSafe on a new, empty database, migrated when it starts; not watching the stay (a test of the
    watch job runs its passes itself), so nothing writes to the sandbox but what a test does."""
    return Settings(
        database_url=DATABASES.new(directory), secret_key=SECRET, demo_users=True, migrate_on_start=True, watch=False
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fhir(sandbox: Sandbox) -> Iterator[dict[str, httpx.Client]]:
    """Plain HTTP clients to each sandbox source, to check what NeoSafe wrote."""
    clients = {name: httpx.Client(base_url=url + "/", timeout=10) for name, url in sandbox.urls.items()}
    yield clients
    for client in clients.values():
        client.close()


def signed_in_browser(url: str, role: str, **options) -> httpx.Client:
    """A browser signed in through the sign-in page as the demo user of `role`, as a person is: a sign-in of its own,
    named by its session cookie. `options` go to httpx.Client."""
    signed_in = httpx.post(f"{url}/sign-in", data={"role": role}, follow_redirects=False, timeout=30)
    assert signed_in.status_code == 303, signed_in.text
    return httpx.Client(base_url=url, cookies={COOKIE: signed_in.cookies[COOKIE]}, **{"timeout": 30, **options})


class LiveServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def browser(self, role: str, **options) -> httpx.Client:
        """A browser signed in as `role` through the sign-in page."""
        return signed_in_browser(self.url, role, **options)

    def token(self, role: str) -> str:
        """An API token, as `neosafe token` makes one: for the API only, never a page's cookie."""
        from app.checkpoints import DEMO_USERS
        from app.web import issue_token

        return issue_token(DEMO_USERS[role], secret=SECRET)

    def client(self, role: str | None = "nurse") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def live(sources: list[SourceSettings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """NeoSafe itself, served by uvicorn on a free loopback port, against the sandbox sources."""
    with serving(create_app(make_settings(tmp_path_factory.mktemp("live")), sources=sources)) as url:
        yield LiveServer(url)


# CIS2 role-code parts and activity codes -> NeoSafe roles, for the single sign-on tests.
SSO_ROLES = {"R8001": "nurse", "R8003": "community-nurse", "B0107": "safeguarding-lead"}


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[str]:
    """A real OpenID Connect provider on a loopback port (oidc-provider-mock): CIS2 cannot be reached here."""
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def cis2_settings(directory: Path, oidc_provider: str, *, demo_users: bool = True) -> Settings:
    """make_settings with single sign-on through the provider (standing in for CIS2: a sign-in keeps its access
    token), and the demo users too unless told not (who have no CIS2 token)."""
    return make_settings(directory).model_copy(
        update={
            "demo_users": demo_users,
            "oidc_issuer": oidc_provider,
            "oidc_client_id": "neosafe",
            "oidc_client_secret": "not-a-real-secret",
            "oidc_roles": SSO_ROLES,
        }
    )


@pytest.fixture(scope="session")
def sso_settings(oidc_provider: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """NeoSafe with single sign-on through that provider and no demo users."""
    return cis2_settings(tmp_path_factory.mktemp("sso"), oidc_provider, demo_users=False)


@pytest.fixture(scope="session")
def sso_neosafe(sso_settings: Settings, sources: list[SourceSettings]) -> Iterator[str]:
    with serving(create_app(sso_settings, sources=sources)) as url:
        yield url
