"""Forms are posted only from NeoSafe's own pages: a cross-site POST (sign-in, sign-out, any form) is refused.

Browsers name the page a form was posted from in `Origin` (else `Referer`). The JSON API is exempt: it takes
bearer tokens, which a browser never attaches by itself. Behind the trust's proxy, uvicorn's view of the scheme
and the Host header are what the user's browser used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SameOriginPostsMiddleware"]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SameOriginPostsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        sent_from = headers.get("origin") or headers.get("referer")
        if sent_from and sent_from != "null":
            parts = urlsplit(sent_from)
            if (parts.scheme, parts.netloc) != (scope.get("scheme", "http"), headers.get("host", "")):
                refused = PlainTextResponse("This form was not sent from NeoSafe's own pages.", status_code=403)
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
