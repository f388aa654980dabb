"""What a source says it can do (its CapabilityStatement), read once and kept, so searches fit the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import FhirClient
from .errors import SourceError

__all__ = ["Capabilities", "parse_capabilities", "read_capabilities"]


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
