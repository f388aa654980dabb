"""A MESH sandbox (NHS England's mesh-sandbox, in its own environment) and a NeoSafe configured to deliver over it.

The NeoSafe serving the API has its delivery worker off: each test runs the passes itself, with its own clock,
through `Deliveries(checkpoints).run_once(now)` on the same database, as a second instance would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mesh_client import MeshClient

from app.checkpoints import Checkpoints
from app.config import Settings, SourceSettings
from app.delivery import Deliveries
from app.main import create_app
from sandbox.mesh import UNIT_MAILBOX, MeshSandbox
from tests.conftest import LiveServer, make_settings
from tests.servers import serving


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshSandbox]:
    with MeshSandbox(tmp_path_factory.mktemp("mesh")) as running:
        yield running


def mesh_settings(directory: Path, mesh: MeshSandbox, **overrides) -> Settings:
    settings = make_settings(directory)
    return settings.model_copy(
        update={
            "mesh_url": mesh.url,
            "mesh_mailbox": UNIT_MAILBOX,
            "mesh_password": mesh.password(UNIT_MAILBOX),
            "mesh_shared_key": mesh.shared_key,
            "delivery_worker": False,
            "delivery_max_attempts": 3,
            "outbox_worker": False,
            **overrides,
        }
    )


@dataclasses.dataclass
class Delivering:
    live: LiveServer
    settings: Settings
    sources: list[SourceSettings]
    mesh: MeshSandbox

    def mailbox(self, mailbox: str) -> MeshClient:
        """A MESH client for the recipient's mailbox, as the recipient's system reads it."""
        return MeshClient(
            self.mesh.url, mailbox, self.mesh.password(mailbox), shared_key=self.mesh.shared_key.encode(), max_retries=0
        )


@pytest.fixture(scope="session")
def delivering(
    mesh: MeshSandbox, sources: list[SourceSettings], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Delivering]:
    settings = mesh_settings(tmp_path_factory.mktemp("delivering"), mesh)
    with serving(create_app(settings, sources=sources)) as url:
        yield Delivering(LiveServer(url), settings, sources, mesh)


@pytest.fixture
async def deliveries(delivering: Delivering) -> AsyncIterator[Deliveries]:
    """The delivery passes, on the live NeoSafe's database, run by the test."""
    checkpoints = Checkpoints.wire(delivering.settings, sources=delivering.sources)
    async with checkpoints.running():
        yield Deliveries(checkpoints)


NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
