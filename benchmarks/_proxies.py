"""Delaying FaultProxies in a process of their own, so their work is not charged to the client being timed.

In one process the proxies would share the client's interpreter lock: every request they pass on would hold
up the client, and the client's parsing would hold up their answers. A real source is another machine.
`time.perf_counter()` reads CLOCK_MONOTONIC on Linux, so the proxies' timestamps compare with the client's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Mapping
from contextlib import AsyncExitStack, suppress
from multiprocessing.connection import Connection
from typing import Any

from testkit.proxy import Exchange, FaultProxy, Faults

__all__ = ["ProxyProcess"]

START_TIMEOUT_S = 30.0


class ProxyProcess:
    """One FaultProxy per upstream, all delaying every answer by `delay_ms`: `with ProxyProcess(urls) as proxies:`.

    `refuse` (see testkit.proxy.SERVER_MODES) makes every source a lesser server: no _revinclude, or no batch."""

    def __init__(self, upstreams: Mapping[str, str], *, delay_ms: float, refuse: frozenset[str] = frozenset()) -> None:
        self.upstreams = dict(upstreams)
        self.delay_ms = delay_ms
        self.urls: dict[str, str] = {}  # source name -> the proxy's base URL, once started
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_run, args=(child, self.upstreams, delay_ms, refuse), daemon=True)
        self._child = child

    def __enter__(self) -> ProxyProcess:
        self._process.start()
        self._child.close()
        try:
            if not self._conn.poll(START_TIMEOUT_S):
                raise RuntimeError(f"the proxy process did not start within {START_TIMEOUT_S:g} s")
            self.urls = self._conn.recv()
        except BaseException as exc:
            self.__exit__()
            if isinstance(exc, EOFError):
                raise RuntimeError("the proxy process exited while starting (see its traceback above)") from exc
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process.is_alive():
            with suppress(EOFError, OSError):
                self._ask("stop")
            self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()

    def reset(self) -> None:
        """Forget the requests seen so far."""
        self._ask("reset")

    def exchanges(self) -> dict[str, list[Exchange]]:
        """The requests each proxy has seen since the last reset, by source name."""
        return self._ask("exchanges")

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()


def _run(conn: Connection, upstreams: dict[str, str], delay_ms: float, refuse: frozenset[str]) -> None:
    try:
        asyncio.run(_serve(conn, upstreams, delay_ms, refuse))
    finally:
        conn.close()


async def _serve(conn: Connection, upstreams: dict[str, str], delay_ms: float, refuse: frozenset[str]) -> None:
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        proxies = {
            name: await stack.enter_async_context(FaultProxy(url, faults=Faults(delay_ms=delay_ms, refuse=refuse)))
            for name, url in upstreams.items()
        }
        conn.send({name: proxy.url for name, proxy in proxies.items()})
        while True:
            try:
                command = await loop.run_in_executor(None, conn.recv)
            except EOFError:  # the benchmark went away
                return
            if command == "reset":
                for proxy in proxies.values():
                    proxy.reset()
                conn.send(None)
            elif command == "exchanges":
                conn.send({name: list(proxy.exchanges) for name, proxy in proxies.items()})
            else:
                break
    conn.send(None)
