"""One loop for NeoSafe's background jobs (the outbox, the watch, the delivery of handovers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["every"]

log = logging.getLogger(__name__)


async def every(
    interval_s: float, stopping: asyncio.Event, work: Callable[[], Awaitable[object]], *, what: str
) -> None:
    """`work()` now and then every `interval_s` until `stopping` is set, which lets the pass in flight finish. A pass
    that fails is logged as `what` failed, and the next one tries again: one bad pass never stops the job for good."""
    while not stopping.is_set():
        try:
            await work()
        except Exception:
            log.exception("%s failed", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval_s)
