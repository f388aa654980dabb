"""A scripted FHIR source: a real HTTP server on a loopback port that answers what the test says, and records
every request it was sent (path, query and Authorization header), so a test can prove what was, or was not, asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.servers import serving

__all__ = ["Asked", "Chunked", "Scripted", "scripted", "searchset"]

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Asked:
    """One request the scripted server was sent."""

    method: str
    path: str
    query: str
    authorization: str | None


Answer = tuple  # (status, body) or (status, body, content type); body: JSON-able, bytes sent as they are, or Chunked


@dataclass(frozen=True)
class Chunked:
    """A body sent in pieces of `size` bytes with no Content-Length (chunked transfer encoding), as a server that
    streams its answer does: the client learns how large it is only by reading it."""

    body: bytes
    size: int = 1 << 16


Script = Callable[[Asked, str], Answer]  # (the request, the server's own base URL) -> the answer


class Scripted:
    """An ASGI app answering each request with `script(asked, base_url)`; `asked` lists what it was sent."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.asked: list[Asked] = []
        self.base_url = ""

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        asked = Asked(scope["method"], scope["path"], scope["query_string"].decode(), headers.get("authorization"))
        self.asked.append(asked)
        status, body, content_type = (*self.script(asked, self.base_url), FHIR_JSON)[:3]
        headers = [(b"content-type", content_type.encode())]
        if isinstance(body, Chunked):
            await send({"type": "http.response.start", "status": status, "headers": headers})
            for start in range(0, len(body.body), body.size):
                piece = body.body[start : start + body.size]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


@contextmanager
def scripted(script: Script) -> Iterator[Scripted]:
    """Serve `script` on a free loopback port for as long as the block runs; `.base_url` is its FHIR base."""
    app = Scripted(script)
    with serving(app) as url:
        app.base_url = f"{url}/fhir"
        yield app


def searchset(*resources: dict[str, Any], link: Any = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }
    if link is not None:
        bundle["link"] = link
    return bundle
