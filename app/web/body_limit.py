"""No request body larger than NEOSAFE_MAX_BODY_BYTES is read: a checklist is kilobytes, not megabytes.

A body announced larger is refused before it is read (the server holds an announced body to its length); one
sent in chunks is read here up to the limit and refused as soon as it passes it. Either way: 413, plainly.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the request is larger than NeoSafe accepts ({self.max_bytes:,} bytes)"}, status_code=413
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope["headers"]).get(b"content-length")
        if announced is not None and (not announced.isdigit() or int(announced) > self.max_bytes):
            await self._refusal()(scope, receive, send)
            return
        if announced is not None or scope["method"] in ("GET", "HEAD"):  # counted by the server: read as sent
            await self.app(scope, receive, send)
            return
        body, more = b"", True  # sent in chunks: read up to the limit here, then hand it on whole
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refusal()(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
