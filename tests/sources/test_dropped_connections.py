"""A kept connection the server has let go: a read is asked again on a new one, a write never is.

NeoSafe keeps one HTTP client per source and reuses its connections; a server closes an idle one after its own
keep-alive time (uvicorn's and httpx's are both about 5 s), so now and then NeoSafe sends on a connection just as the
server closes it. The server here is a real socket on loopback that answers the first request on each connection
and closes the connection on the second, unanswered: that moment, every time.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from app.config import SourceSettings
from app.sources import FhirClient, SourceUnavailable

SEARCHSET = {"resourceType": "Bundle", "type": "searchset", "entry": []}
ANSWERS = {  # by method: a search, or a batch of one search
    "GET": json.dumps(SEARCHSET).encode(),
    "POST": json.dumps(
        {
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"resource": SEARCHSET, "response": {"status": "200 OK"}}],
        }
    ).encode(),
}


@dataclass
class OneAnswerPerConnection:
    """Counts what it was sent: each request line, and how many connections it accepted."""

    listener: socket.socket
    requests: list[str] = field(default_factory=list)
    connections: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/fhir"

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            for answered in (False, True):
                head = self._request(conn)
                if head is None:
                    return
                line = head.split(b"\r\n", 1)[0].decode()
                self.requests.append(line)
                if answered:  # the second request on this connection: let it go, as an idle timeout would
                    return
                body = ANSWERS[line.split(" ", 1)[0]]
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nConnection: keep-alive\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )

    @staticmethod
    def _request(conn: socket.socket) -> bytes | None:
        """One request's head (its body, if any, read and dropped), or None once the client has gone."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            0,
        )
        while len(body) < length:
            body += conn.recv(65536)
        return head


@pytest.fixture
def server() -> Iterator[OneAnswerPerConnection]:
    listener = socket.create_server(("127.0.0.1", 0))
    running = OneAnswerPerConnection(listener)
    threading.Thread(target=running.serve, daemon=True).start()
    yield running
    listener.close()


def client_of(server: OneAnswerPerConnection) -> FhirClient:
    return FhirClient(SourceSettings(name="police-gp", base_url=server.url, timeout_s=5))


async def test_a_search_cut_off_on_a_kept_connection_is_asked_again_on_a_new_one(server):
    async with client_of(server) as client:
        first = await client.search("Flag", {"patient": "p1"})
        second = await client.search("Flag", {"patient": "p1"})  # sent on the kept connection, which is dropped

    assert first.resources == second.resources == []
    assert [r.split(" ")[0] for r in server.requests] == ["GET", "GET", "GET"]
    assert server.connections == 2


async def test_a_batch_of_searches_is_a_read_and_asked_again_too(server):
    async with client_of(server) as client:
        await client.search("Flag", {"patient": "p1"})
        [answer] = await client.batch([("Flag", {"patient": "p1"})])

    assert not isinstance(answer, Exception) and answer.resources == []
    assert [r.split(" ")[0] for r in server.requests] == ["GET", "POST", "POST"]


async def test_a_transaction_cut_off_is_not_sent_again(server):
    async with client_of(server) as client:
        await client.search("Flag", {"patient": "p1"})
        with pytest.raises(SourceUnavailable):
            await client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": []})

    assert [r.split(" ")[0] for r in server.requests] == ["GET", "POST"]  # asked once: the outbox decides what next
