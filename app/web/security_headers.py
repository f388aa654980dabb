"""Headers that keep a page's safeguarding data on it: no other script, no framing, no referrer, HTTPS kept.

Page URLs carry NHS numbers, so no Referer leaves with a link. Only NeoSafe's own scripts and styles run (the
NHS.UK frontend and Swagger UI are served by NeoSafe); only the EPR the trust names (NEOSAFE_FRAME_ANCESTORS) may
frame it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeadersMiddleware", "support_snippet_hash"]

HSTS = b"max-age=31536000; includeSubDomains"
FONTS = "https://assets.nhs.uk"  # the NHS.UK frontend's Frutiger, which its stylesheet loads from NHS England


def support_snippet_hash() -> str:
    """The CSP hash of the one inline script the NHS.UK page template carries (it marks the page as supporting
    the frontend's JavaScript): allowed by its hash, so no other inline script can run."""
    template = files("nhsuk_frontend_jinja").joinpath("templates/nhsuk/template.jinja").read_text(encoding="utf-8")
    snippet = re.search(r"<script[^>]*>(.*?)</script>", template, re.S)
    if snippet is None:
        raise RuntimeError("the NHS.UK page template no longer has its inline support script: review the CSP")
    return "'sha256-" + base64.b64encode(hashlib.sha256(snippet.group(1).encode()).digest()).decode() + "'"


def content_security_policy(frame_ancestors: str) -> bytes:
    return (
        f"default-src 'self'; script-src 'self' {support_snippet_hash()}; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self' {FONTS}; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {frame_ancestors}"
    ).encode()


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, frame_ancestors: str) -> None:
        self.app = app
        self.policy = content_security_policy(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", self.policy),
        ]
        if scope.get("scheme") == "https":  # as the trust's TLS proxy told uvicorn: browsers keep to HTTPS
            headers.append((b"strict-transport-security", HSTS))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)
