"""Per-source authentication as httpx.Auth: a static bearer token, or SMART Backend Services.

SMART Backend Services (client-credentials grant with a private_key_jwt assertion) is how NHS
integration engines and national APIs authorise a system rather than a person. The access token is
kept until shortly before it expires, and fetched once however many searches wait for it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import httpx
import jwt

from app.config import SourceSettings

from .errors import SourceAuthError

__all__ = ["BearerAuth", "SmartBackendAuth", "auth_for"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EARLY_S = 30  # renew this long before the token expires


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self._header
        yield request


class SmartBackendAuth(httpx.Auth):
    """client_credentials with a signed JWT assertion (RS384 or ES384), per the SMART Backend Services spec."""

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        client_id: str,
        private_key_pem: str,
        key_id: str,
        scope: str,
        token_url: str | None = None,
        algorithm: str = "RS384",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source, self.base_url = source, base_url.rstrip("/")
        self.client_id, self.key, self.key_id = client_id, private_key_pem, key_id
        self.scope, self.token_url, self.algorithm, self.clock = scope, token_url, algorithm, clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    @classmethod
    def from_key_file(cls, path: Path, **kwargs) -> SmartBackendAuth:
        return cls(private_key_pem=path.read_text(encoding="utf-8"), **kwargs)

    def _fresh(self) -> bool:
        return self._token is not None and self.clock() < self._expires_at - EARLY_S

    def _assertion(self, token_url: str) -> str:
        now = int(self.clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": token_url,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.key_id, "typ": "JWT"})

    def _refused(self, why: str) -> SourceAuthError:
        return SourceAuthError(why, source=self.source, url=self.token_url or self.base_url)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._lock:
            if not self._fresh():
                if self.token_url is None:
                    found = yield httpx.Request("GET", f"{self.base_url}/.well-known/smart-configuration")
                    await found.aread()
                    endpoint = found.json().get("token_endpoint") if found.is_success else None
                    if not endpoint:
                        raise self._refused(
                            "no token endpoint: set token_url or publish .well-known/smart-configuration"
                        )
                    self.token_url = endpoint
                response = yield httpx.Request(
                    "POST",
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "scope": self.scope,
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": self._assertion(self.token_url),
                    },
                )
                await response.aread()
                body = (
                    response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                )
                if not response.is_success or "access_token" not in body:
                    reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
                    raise self._refused(f"token request refused: {reason}")
                self._token = body["access_token"]
                self._expires_at = self.clock() + float(body.get("expires_in", 300))
                self.tokens_fetched += 1
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def auth_for(source: SourceSettings) -> httpx.Auth | None:
    """The httpx.Auth a source's settings ask for; keep one per source so its token is reused."""
    settings = source.auth
    if settings.type == "bearer":
        return BearerAuth(settings.token() or "")
    if settings.type == "smart-backend":
        return SmartBackendAuth.from_key_file(
            settings.private_key_file,
            source=source.name,
            base_url=source.url,
            client_id=settings.client_id,
            key_id=settings.key_id,
            scope=settings.scope,
            token_url=str(settings.token_url) if settings.token_url else None,
            algorithm=settings.algorithm,
        )
    return None
