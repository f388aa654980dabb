"""Per-source authentication as httpx.Auth: a static bearer token, or SMART Backend Services.

SMART Backend Services (client-credentials grant with a private_key_jwt assertion) is how NHS
integration engines and national APIs authorise a system rather than a person. The access token is
kept until shortly before it expires, and fetched once however many searches wait for it.

Credentials go only to the source's own origin (scheme, host and port): a request anywhere else (a
`next` link a source made up, say) is sent without them, and a SMART token is not even fetched for it.
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

__all__ = ["BearerAuth", "SmartBackendAuth", "auth_for", "origin_of"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EARLY_S = 30  # renew this long before the token expires


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL | str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in, as browsers compare origins."""
    url = httpx.URL(url)
    return url.scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme)


class BearerAuth(httpx.Auth):
    """A static token, sent only to `base_url`'s origin."""

    def __init__(self, token: str, *, base_url: str) -> None:
        self._header = f"Bearer {token}"
        self._origin = origin_of(base_url)

    def auth_flow(self, request: httpx.Request):
        if origin_of(request.url) == self._origin:
            request.headers["Authorization"] = self._header
        else:
            request.headers.pop("Authorization", None)
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
        if origin_of(request.url) != origin_of(self.base_url):
            request.headers.pop("Authorization", None)  # not the source: no token, and none fetched for it
            yield request
            return
        async with self._lock:
            if not self._fresh():
                if self.token_url is None:
                    found = yield httpx.Request("GET", f"{self.base_url}/.well-known/smart-configuration")
                    await found.aread()
                    endpoint = _json_object(found).get("token_endpoint") if found.is_success else None
                    if not isinstance(endpoint, str) or not endpoint:
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
                    _json_object(response)
                    if response.headers.get("content-type", "").startswith("application/json")
                    else {}
                )
                token = body.get("access_token")
                if not response.is_success or not isinstance(token, str) or not token:
                    reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
                    raise self._refused(f"token request refused: {str(reason)[:200]}")
                try:
                    lifetime = float(body.get("expires_in", 300))
                except (TypeError, ValueError):
                    lifetime = 0.0  # unreadable: use the token for this request only
                self._token = token
                self._expires_at = self.clock() + lifetime
                self.tokens_fetched += 1
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def _json_object(response: httpx.Response) -> dict:
    """The response's JSON object; {} if it is not one (a token server is untrusted input too)."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def auth_for(source: SourceSettings) -> httpx.Auth | None:
    """The httpx.Auth a source's settings ask for; keep one per source so its token is reused."""
    settings = source.auth
    if settings.type == "bearer":
        return BearerAuth(settings.token() or "", base_url=source.url)
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
