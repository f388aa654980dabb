"""Request logs and metrics without patient data: the route's template (/patients/{number}), never the filled-in path.

Each request gets an id (the caller's X-Request-Id if it is a plain token, else a new one), echoed in the
response and carried by every log line written while it is handled. The formatters redact anything shaped like
an NHS number and drop query strings, in case a message or a traceback quotes one.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID_HEADER", "JsonFormatter", "RequestLogMiddleware", "TextFormatter", "redact", "request_id"]

log = logging.getLogger("neosafe.requests")

REQUEST_ID_HEADER = "X-Request-Id"
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_SECONDS = Histogram(
    "neosafe_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status.",
    ["method", "route", "status"],
)

_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_NHS_NUMBER = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
_QUERY = re.compile(r"\?[^\s\"'<>]+")
# Attributes every LogRecord has; anything else was passed in `extra=` and goes into the JSON (bar uvicorn's
# copy of its message with terminal colours).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def redact(text: str) -> str:
    """Text safe for a log: NHS-number-shaped digits and query strings replaced."""
    return _NHS_NUMBER.sub("[number removed]", _QUERY.sub("?[query removed]", text))


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for a trust's log collector: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        current = request_id.get()
        if current:
            entry["request_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Lines for a person at a terminal (`neosafe demo`), redacted the same way."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        current = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(current)

        async def capture(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", current.encode())]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/assets/…" if scope["path"].startswith("/assets") else "(no route)"
            )
            REQUEST_SECONDS.labels(scope["method"], template, str(status_code)).observe(seconds)
            log.info(
                "%s %s %s %.0f ms",
                scope["method"],
                template,
                status_code,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "route": template,
                    "status": status_code,
                    "ms": round(seconds * 1000),
                },
            )
            request_id.reset(token)
