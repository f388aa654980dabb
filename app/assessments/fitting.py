"""A transaction as a given server can take it, from what its CapabilityStatement says it can do."""

from __future__ import annotations

from app.sources import FhirClient

from .bundle import creates_to_check, fit_to_server, without_existing

__all__ = ["fitted"]


async def fitted(client: FhirClient, bundle: dict) -> dict:
    """The bundle as this server can take it: conditions it can search on, and for a server that cannot do
    conditional creates, a search first and only what is not there yet."""
    capability = await client.capabilities()
    bundle = fit_to_server(bundle, capability)
    checks = creates_to_check(bundle, capability)
    found: dict[str, str] = {}
    for entry in checks:
        result = await client.search(entry["request"]["url"], dict([entry["request"]["ifNoneExist"].split("=", 1)]))
        if result.resources:
            found[entry["fullUrl"]] = f"{entry['request']['url']}/{result.resources[0].id}"
    return without_existing(bundle, checks, found) if checks else bundle
