"""What a source says it can do (its CapabilityStatement), read once and kept, so searches fit the server.

`KeptCapabilities` reads them in the background from start-up, so the first picture does not wait a round for
them; a source down then is asked again when next wanted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .client import FhirClient
from .errors import SourceError

__all__ = ["Capabilities", "KeptCapabilities", "parse_capabilities", "read_capabilities"]


@dataclass
class Capabilities:
    """Resource types and their search parameters; `types` None means the server did not say (assume all).

    `chaining` starts optimistic and is switched off the first time the server refuses a chained search,
    after which NeoSafe finds the Patient first and searches by reference, as every server supports. `batch`
    (the server declares the `batch` interaction) is switched off the first time the server refuses a batch.
    """

    types: dict[str, frozenset[str]] | None = None
    revincludes: frozenset[str] = frozenset()  # what Patient searches may _revinclude, e.g. "Flag:subject"
    chaining: bool = True
    batch: bool = False
    known: bool = field(default=False)

    def holds(self, resource_type: str) -> bool:
        return self.types is None or resource_type in self.types

    def can_search(self, resource_type: str, parameter: str) -> bool:
        return self.types is None or parameter in self.types.get(resource_type, frozenset())

    def declares_search(self, resource_type: str, parameter: str) -> bool:
        """The server said it can search `resource_type` by `parameter` (never assumed of a server that did not say)."""
        return self.types is not None and parameter in self.types.get(resource_type, frozenset())


def parse_capabilities(statement: dict[str, Any]) -> Capabilities:
    types: dict[str, frozenset[str]] = {}
    revincludes: frozenset[str] = frozenset()
    batch = False
    for rest in statement.get("rest") or []:
        if rest.get("mode", "server") != "server":
            continue
        batch = batch or any(i.get("code") == "batch" for i in rest.get("interaction") or [])
        for resource in rest.get("resource") or []:
            params = {p.get("name") for p in resource.get("searchParam") or [] if p.get("name")}
            types[resource.get("type", "")] = frozenset(params)
            if resource.get("type") == "Patient":
                revincludes = frozenset(resource.get("searchRevInclude") or [])
    return Capabilities(types=types or None, revincludes=revincludes, batch=batch, known=True)


async def read_capabilities(client: FhirClient) -> Capabilities:
    """The source's capabilities; if it will not say, assume it holds everything (never assume it holds nothing)."""
    try:
        return parse_capabilities(await client.capabilities())
    except SourceError:
        return Capabilities()


class KeptCapabilities:
    """Each source's capabilities by name, kept once the source has said (gather_picture switches off what a
    server refuses in them). Reads run as tasks, so a slow or down source never holds up whoever started them;
    one that would not say is asked again the next time its capabilities are wanted."""

    def __init__(self) -> None:
        self.known: dict[str, Capabilities] = {}
        self._reading: dict[str, asyncio.Task[None]] = {}

    def start(self, clients: Mapping[str, FhirClient]) -> None:
        """Start reading the capabilities of each source not known yet and not being read."""
        for name, client in clients.items():
            if name not in self.known and name not in self._reading:
                self._reading[name] = asyncio.create_task(self._read(name, client), name=f"capabilities of {name}")

    async def wanted(self, clients: Mapping[str, FhirClient]) -> dict[str, Capabilities]:
        """The capabilities known for `clients`' sources, once the reads in flight have ended (those not known and
        not in flight started now), each waited for at most its source's timeout: a source still not read is then
        missing, which gather_picture reads as "assume it can do everything", and its read goes on for next time."""
        self.start(clients)
        await asyncio.gather(
            *(_waited(self._reading[name], clients[name].source.timeout_s) for name in clients if name in self._reading)
        )
        return self.known

    async def aclose(self) -> None:
        """Stop the reads in flight (their clients are about to close)."""
        reading = list(self._reading.values())
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)

    async def _read(self, name: str, client: FhirClient) -> None:
        try:
            capabilities = await read_capabilities(client)
        finally:
            self._reading.pop(name, None)
        if capabilities.known:
            self.known[name] = capabilities


async def _waited(task: asyncio.Task[None], timeout_s: float) -> None:
    """`task` waited for at most `timeout_s`; after that it goes on without the waiter."""
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        return
