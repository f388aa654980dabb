"""A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1 in front of one FHIR server: for tests, benchmarks, the soak.

    async with FaultProxy("http://127.0.0.1:8081/fhir") as proxy:
        proxy.faults.delay_ms = 150              # every answer 150 ms late
        proxy.faults.fail_rate = 0.3             # 30 % answered 503 (seeded, so a run repeats)
        proxy.faults.script.append(Fault.DROP)   # the next request reaches the server; its answer never arrives
        ...  # point a client at proxy.url
        proxy.count("Patient")                   # requests seen, by resource type
    FaultProxy(url, faults=Faults(refuse=SERVER_MODES["no-batch"]))  # a server without _revinclude or batch

Each request is read whole (headers, then a Content-Length or chunked body), forwarded with httpx, and its
answer written back whole with a Content-Length; the client's connection is kept alive unless it asks to
close. Absolute upstream URLs in answers (Bundle links, fullUrl, Location) are rewritten to the proxy, so paging
through the proxy stays on it. `stop()` and `start()` take the proxy down and up again on the same port, as a
restarting server would. `Faults.refuse` makes the server behind it a lesser one: what it names is left out of
the CapabilityStatement and answered 400 not-supported, so each of NeoSafe's ways of asking can be measured and
tested against the same data. `ThreadedFaultProxy` runs one on its own event loop, for synchronous code.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any

import httpx

__all__ = ["SERVER_MODES", "Exchange", "Fault", "FaultProxy", "Faults", "ThreadedFaultProxy", "bundle_type"]

HOST = "127.0.0.1"  # loopback only, never all interfaces
MAX_HEAD_BYTES = 1 << 20
UPSTREAM_TIMEOUT_S = 120.0
# Headers that describe one connection (RFC 9110 section 7.6.1), or that the proxy sets itself: never passed on.
NOT_PASSED_ON = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length", "expect", "accept-encoding", "content-encoding"}
)  # fmt: skip

REVINCLUDE, BATCH = "revinclude", "batch"
# What a server may lack, by the name the benchmarks and tests select it with: as a strict server that declares
# batch but no searchRevInclude, and one with neither (NeoSafe then falls back to chained searches).
SERVER_MODES: dict[str, frozenset[str]] = {
    "full": frozenset(),
    "no-revinclude": frozenset({REVINCLUDE}),
    "no-batch": frozenset({REVINCLUDE, BATCH}),
}


class Fault(StrEnum):
    """What the proxy may do to a request instead of passing it through."""

    FAIL = "503"  # answer 503 Service Unavailable (with Retry-After if set); the server never sees it
    TIMEOUT = "timeout"  # hold the request unanswered until the client gives up (forwarded first if timeout_forwards)
    DROP = "drop"  # forward it, let the server commit, then close the connection without answering


@dataclass
class Faults:
    """What the proxy does to each request; change any field while it runs."""

    delay_ms: float = 0.0  # added to every answer, after the server's own time
    fail_rate: float = 0.0  # fraction of requests answered 503
    retry_after: str | None = None  # Retry-After on those 503s: seconds or an HTTP date
    timeout_rate: float = 0.0  # fraction held unanswered
    timeout_forwards: bool = False  # a held request reaches the server first (it commits; the client times out)
    hold_s: float = 300.0  # the longest a request is held; the client normally gives up first
    drop_rate: float = 0.0  # fraction forwarded, then the connection closed without an answer
    methods: frozenset[str] | None = None  # faults (not the delay) only for these methods, e.g. {"POST"}; None: all
    spare_batches: bool = False  # a batch of searches (a read POSTed to the base) passes unfaulted: writes only
    refuse: frozenset[str] = frozenset()  # REVINCLUDE, BATCH: not declared, and refused (see SERVER_MODES)
    script: deque[Fault] = field(default_factory=deque)  # faults for the next matching requests, before the rates
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        """Start the fault sequence again from `seed`."""
        self.seed = seed
        self._rng = random.Random(seed)

    def pick(self, method: str, *, batch: bool = False) -> Fault | None:
        """The fault for the next request, or None to pass it through."""
        if (self.methods is not None and method not in self.methods) or (batch and self.spare_batches):
            return None
        if self.script:
            return self.script.popleft()
        roll = self._rng.random()
        rates = ((Fault.FAIL, self.fail_rate), (Fault.TIMEOUT, self.timeout_rate), (Fault.DROP, self.drop_rate))
        for fault, rate in rates:
            if roll < rate:
                return fault
            roll -= rate
        return None


@dataclass
class Exchange:
    """One request through the proxy: when it arrived and was finished with (time.perf_counter()), and how."""

    method: str
    target: str  # path and query, as sent
    resource_type: str  # first path segment after the base path: "Patient", "metadata"; "" for the base itself
    started: float
    finished: float | None = None
    status: int | None = None  # None: no answer was written (a timeout, a drop, or the client went away)
    fault: Fault | None = None
    batch: bool = False  # a batch Bundle POSTed to the base: searches, not a write

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool


class FaultProxy:
    """A reverse proxy to `upstream` (a FHIR base URL) on 127.0.0.1; `async with FaultProxy(url) as proxy:`."""

    def __init__(self, upstream: str, *, faults: Faults | None = None, port: int = 0) -> None:
        parsed = httpx.URL(upstream)
        self.upstream = upstream.rstrip("/")
        self.faults = faults or Faults()
        self.port = port  # 0 until started: then the port it listens on, kept across restarts
        self.exchanges: list[Exchange] = []
        self._origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        self._base_path = parsed.path.rstrip("/")
        self._server: asyncio.Server | None = None
        self._open = False  # accepting connections: set before listening starts, cleared before it stops
        self._http: httpx.AsyncClient | None = None
        self._connections: dict[asyncio.Task, asyncio.StreamWriter] = {}

    @property
    def url(self) -> str:
        """The proxy's FHIR base URL: the upstream's, on the proxy's port."""
        return f"http://{HOST}:{self.port}{self._base_path}"

    @property
    def running(self) -> bool:
        return self._open

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen (again) on the proxy's port; the first start picks a free one."""
        if self._server is not None:
            return
        self._http = httpx.AsyncClient(timeout=UPSTREAM_TIMEOUT_S)
        self._open = True
        try:
            self._server = await asyncio.start_server(self._serve, HOST, self.port, limit=MAX_HEAD_BYTES)
        except BaseException:
            self._open = False
            await self._http.aclose()
            raise
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every open connection, mid-request or idle, as a crashing server would."""
        if self._server is None:
            return
        server, self._server, self._open = self._server, None, False
        server.close()
        for task, writer in list(self._connections.items()):
            writer.transport.abort()
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()
        if self._http is not None:
            await self._http.aclose()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def count(
        self,
        resource_type: str | None = None,
        *,
        method: str | None = None,
        prefix: str | None = None,
        batch: bool | None = None,
    ) -> int:
        """Requests seen (since the last reset), optionally of one resource type, method or path prefix, and
        batches of searches only (True) or everything else (False)."""
        return sum(
            1
            for e in list(self.exchanges)
            if (resource_type is None or e.resource_type == resource_type)
            and (method is None or e.method == method)
            and (prefix is None or e.target.startswith(prefix))
            and (batch is None or e.batch == batch)
        )

    def counts(self) -> Counter[str]:
        """Requests seen, by resource type ("" for the base URL: transactions and batches)."""
        return Counter(e.resource_type for e in list(self.exchanges))

    def reset(self) -> None:
        self.exchanges.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if not self._open:  # accepted just as the proxy stopped
            writer.transport.abort()
            return
        self._connections[task] = writer
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away or sent something that is not HTTP/1.1: close the connection
        except asyncio.CancelledError:
            pass  # stop() cut the connection; asyncio would report a handler that ends cancelled as an error
        finally:
            del self._connections[task]
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is to be closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed its keep-alive connection
        started = time.perf_counter()
        request = await _read_request(head, reader)
        resource_type = self._resource_type(request.target)
        batch = request.method == "POST" and resource_type == "" and bundle_type(request.body) == "batch"
        exchange = Exchange(request.method, request.target, resource_type, started, batch=batch)
        self.exchanges.append(exchange)
        exchange.fault = fault = self.faults.pick(request.method, batch=batch)
        refused = self._refused(request, batch=batch)
        try:
            if refused:
                answer = (400, [("Content-Type", "application/fhir+json")], _outcome("not-supported", refused))
            elif fault is Fault.FAIL:
                outcome = _outcome("transient", "injected fault: service unavailable")
                retry = [("Retry-After", self.faults.retry_after)] if self.faults.retry_after else []
                answer = (503, [("Content-Type", "application/fhir+json"), *retry], outcome)
            elif fault is Fault.TIMEOUT:
                if self.faults.timeout_forwards:
                    await self._forward(request)
                await _hold(reader, self.faults.hold_s)
                return False
            elif fault is Fault.DROP:
                await self._forward(request)
                return False
            else:
                answer = await self._forward(request)
                if resource_type == "metadata" and self.faults.refuse and answer[0] == 200:
                    answer = (answer[0], answer[1], _without(answer[2], self.faults.refuse))
            if self.faults.delay_ms > 0:
                await asyncio.sleep(self.faults.delay_ms / 1000)
            await _write(writer, *answer, request=request)
            exchange.status = answer[0]
            return request.keep_alive
        finally:
            exchange.finished = time.perf_counter()

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request upstream and return its answer with upstream URLs pointing at the proxy."""
        assert self._http is not None
        headers = [(k, v) for k, v in request.headers if k.lower() not in NOT_PASSED_ON]
        headers.append(("Accept-Encoding", "identity"))  # a plain body, so its URLs can be rewritten
        try:
            response = await self._http.request(
                request.method, self._origin + request.target, headers=headers, content=request.body or None
            )
        except httpx.HTTPError as exc:
            return 502, [("Content-Type", "application/fhir+json")], _outcome("transient", f"upstream: {exc!r}")
        proxy_origin = f"http://{HOST}:{self.port}"
        answer_headers = [
            (k, v.replace(self._origin, proxy_origin) if k.lower() in ("location", "content-location") else v)
            for k, v in response.headers.multi_items()
            if k.lower() not in NOT_PASSED_ON
        ]
        if request.method == "HEAD" and "content-length" in response.headers:
            answer_headers.append(("Content-Length", response.headers["content-length"]))
        body = response.content.replace(self._origin.encode(), proxy_origin.encode())
        return response.status_code, answer_headers, body

    def _refused(self, request: _Request, *, batch: bool) -> str | None:
        """Why a server without `faults.refuse` would answer this request 400, or None if it would not."""
        refuse = self.faults.refuse
        if BATCH in refuse and batch:
            return "this server does not support batch"
        if REVINCLUDE in refuse and "_revinclude" in httpx.URL(request.target).params:
            return "this server does not support _revinclude"
        return None

    def _resource_type(self, target: str) -> str:
        path = target.split("?", 1)[0]
        if path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        return path.strip("/").split("/", 1)[0]


def _without(body: bytes, refuse: frozenset[str]) -> bytes:
    """A CapabilityStatement that declares none of `refuse`: no searchRevInclude, no batch interaction."""
    statement = json.loads(body)
    for rest in statement.get("rest") or []:
        if BATCH in refuse:
            rest["interaction"] = [i for i in rest.get("interaction") or [] if i.get("code") != BATCH]
        if REVINCLUDE in refuse:
            for resource in rest.get("resource") or []:
                resource.pop("searchRevInclude", None)
    return json.dumps(statement).encode()


def bundle_type(body: bytes) -> str | None:
    """Bundle.type of a JSON body, or None when it is not a Bundle."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    return data.get("type") if isinstance(data, dict) and data.get("resourceType") == "Bundle" else None


async def _read_request(head: bytes, reader: asyncio.StreamReader) -> _Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = [(name.strip(), value.strip()) for name, value in (line.split(":", 1) for line in lines[1:] if line)]
    fields = {name.lower(): value for name, value in headers}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(fields.get("content-length", "0")))
    connection = fields.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    if target.startswith(("http://", "https://")):  # absolute-form: keep the path and query
        target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    return _Request(method.upper(), target, headers, body, keep_alive)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, ignored
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _hold(reader: asyncio.StreamReader, seconds: float) -> None:
    """Answer nothing until the client closes the connection (or `seconds` pass)."""
    with suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass


async def _write(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes, *, request: _Request
) -> None:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    bodiless = status < 200 or status in (204, 304)
    if not bodiless and request.method != "HEAD":
        lines.append(f"Content-Length: {len(body)}")
    if not request.keep_alive:
        lines.append("Connection: close")
    payload = b"" if bodiless or request.method == "HEAD" else body
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
    await writer.drain()


def _outcome(code: str, text: str) -> bytes:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return json.dumps({"resourceType": "OperationOutcome", "issue": [issue]}).encode()


class ThreadedFaultProxy:
    """A FaultProxy on its own event loop in a background thread: `with ThreadedFaultProxy(url) as proxy:`.

    For synchronous tests. `faults` may be changed from any thread; `exchanges` is the running proxy's list.
    To time a client, run the proxies in another process instead (see benchmarks/_proxies.py): in one process
    they share the interpreter lock with the client, and each holds the other up.
    """

    def __init__(self, upstream: str, *, faults: Faults | None = None, port: int = 0) -> None:
        self.proxy = FaultProxy(upstream, faults=faults, port=port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    url = property(lambda self: self.proxy.url)
    port = property(lambda self: self.proxy.port)
    faults = property(lambda self: self.proxy.faults)
    exchanges = property(lambda self: self.proxy.exchanges)

    def __enter__(self) -> ThreadedFaultProxy:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        try:
            self.start()
        except BaseException:
            self._close_loop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            self._close_loop()

    def start(self) -> None:
        self._call(self.proxy.start())

    def stop(self) -> None:
        self._call(self.proxy.stop())

    def restart(self) -> None:
        self._call(self.proxy.restart())

    def count(
        self,
        resource_type: str | None = None,
        *,
        method: str | None = None,
        prefix: str | None = None,
        batch: bool | None = None,
    ) -> int:
        return self.proxy.count(resource_type, method=method, prefix=prefix, batch=batch)

    def counts(self) -> Counter[str]:
        return self.proxy.counts()

    def reset(self) -> None:
        self.proxy.reset()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None, "use `with ThreadedFaultProxy(...)`"
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def _close_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._call(loop.shutdown_asyncgens())
        self._call(loop.shutdown_default_executor())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=60)
        loop.close()
        self._loop = self._thread = None
