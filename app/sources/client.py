"""An async FHIR R4 client for one source: timeouts, paging, typed errors, R4B models.

A source's answer is untrusted input. It is read as a stream and only up to `max_bytes` (NEOSAFE_SOURCE_MAX_BYTES
per page; a Content-Length announcing more is not read at all), and what is read is parsed in a worker thread
(`off_the_loop`): JSON nested deeper than MAX_DEPTH is refused before any model is built, so neither a huge
answer nor a deep one holds up the event loop, and with it every other request NeoSafe is serving.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache, partial
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, TypeVar
from urllib.parse import quote_plus, unquote, urlencode

import httpx
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from app.config import Settings, SourceSettings

from .auth import auth_for, origin_of
from .errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)

__all__ = ["MAX_DEPTH", "FhirClient", "Query", "SearchResult", "off_the_loop", "parse_resource"]

Query = tuple[str, dict[str, str | list[str]]]  # one search: a resource type and its parameters

FHIR_JSON = "application/fhir+json"
MAX_PAGES = 50
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
MAX_BYTES = Settings.model_fields["source_max_bytes"].default  # NEOSAFE_SOURCE_MAX_BYTES's default: 8 MB a page
# How deeply an answer's JSON may nest. FHIR resources in practice nest less than 20 deep, and a Bundle's entries
# add 3; an answer nested deeper is refused before any model is built (pydantic and classification recurse).
MAX_DEPTH = 100

# Reading an answer (JSON, then R4B models, then records: seconds of CPU for a few MB) runs in these threads, so the
# event loop goes on serving meanwhile; a pool of its own leaves the loop's default executor (DNS lookups) free.
READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="neosafe-read")

T = TypeVar("T")

SOURCE_SECONDS = Histogram(
    "neosafe_source_request_duration_seconds", "Time a FHIR source took to answer one request.", ["source"]
)
SOURCE_FAILURES = Counter(
    "neosafe_source_request_failures_total", "FHIR source requests that failed, by error class.", ["source", "error"]
)


@dataclass
class SearchResult:
    """Resources a search found, and why any entries were left out (unparseable, wrong type)."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False


# A kept connection the server closed as NeoSafe sent on it: both keep an idle one about 5 s (httpx's and uvicorn's
# defaults), so now and then a request goes out just as the server lets it go. It never reached the server, or its
# answer was cut off: a read is asked once more, on a new connection; a write is not (the outbox owns its retries).
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


# JSON up to this size is read on the loop: it takes far less time than handing it to a reader thread and back.
INLINE_BYTES = 16 * 1024


async def off_the_loop(function: Callable[..., T], *args: Any, inline: bool = False) -> T:
    """`function(*args)` in a reader thread, awaited; cancelling the wait drops it if it has not started yet.
    `inline`: the caller knows the work is tiny (nothing found, a small answer), so it is done here and now:
    the same call and the same result or error, without the hand-off to a thread and back."""
    if inline:
        return function(*args)
    return await asyncio.get_running_loop().run_in_executor(READERS, function, *args)


class _TooDeep(ValueError):
    pass


def _json(content: bytes) -> Any:
    """The JSON in `content` (CPU work: call it off the loop). ValueError if it is not JSON; _TooDeep if it nests
    deeper than MAX_DEPTH, which json's own recursion limit catches for the deepest (RecursionError never escapes)."""
    try:
        value = json.loads(content)
    except RecursionError as exc:
        raise _TooDeep from exc
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:  # iteratively: walking a deep value must not recurse either
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _TooDeep
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


# urlencode's own quoting, remembered: a picture's batch carries the same long code lists every time (a code list's
# chunk is the same string each picture), and quoting them afresh, a byte at a time, was a tenth of its CPU.
_quoted = lru_cache(maxsize=1024)(quote_plus)


def _query_string(params: dict[str, Any]) -> str:
    """`urlencode(params, doseq=True)`, exactly: the same quoting, each distinct value quoted once per process."""
    return urlencode(params, doseq=True, quote_via=_quoted)


def _in_mb(size: int) -> str:
    """A byte count as people read it: 8 MB, 1.5 MB, 64 kB."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:g} MB"
    return f"{size / 1_000:g} kB" if size >= 1_000 else f"{size} bytes"


def parse_resource(data: Any) -> Resource:
    """Parse one FHIR JSON resource with the R4B models; ValueError with a short reason if it is not valid."""
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise ValueError("not a FHIR resource (no resourceType)")
    resource_type = data["resourceType"]
    if not RESOURCE_TYPE.fullmatch(resource_type):
        raise ValueError("not a FHIR resource (resourceType is not a type name)")
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown resource type {resource_type!r}") from exc
    if not issubclass(model, Resource):
        raise ValueError(f"{resource_type!r} is not a resource type")
    try:
        return model.model_validate(data)
    except RecursionError as exc:
        raise ValueError(f"invalid {data['resourceType']}: nested too deeply to read") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"invalid {data['resourceType']}: {where}: {first['msg']}") from exc


class FhirClient:
    """Talks to one FHIR source. Use as `async with FhirClient(source) as client:`.

    A `kept` client lives as long as the process (one connection pool and SSL context per source, connections
    kept alive between pictures): `async with` only borrows it, and its owner closes it with `aclose()`.
    """

    def __init__(
        self,
        source: SourceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | None = None,
        max_bytes: int = MAX_BYTES,
        kept: bool = False,
    ) -> None:
        """`auth` defaults to what the source's settings ask for; pass a kept one to reuse its token. `max_bytes` is
        the most read of one answer (Settings.source_max_bytes): a larger one is a SourceDataError, unread."""
        self.source = source
        self.max_bytes = max_bytes
        self.kept = kept
        self._http = httpx.AsyncClient(
            base_url=source.url + "/",
            headers={"Accept": FHIR_JSON},
            timeout=httpx.Timeout(source.timeout_s),
            transport=transport,
            auth=auth or auth_for(source),
            # A source's cookies are never kept: a kept client serves everyone's requests, which must not share one.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    async def __aenter__(self) -> FhirClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self.kept:
            await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def search(
        self,
        resource_type: str,
        params: dict[str, str | list[str]],
        *,
        max_pages: int = MAX_PAGES,
        headers: dict[str, str] | None = None,
    ) -> SearchResult:
        """Search and follow Bundle.link[next] to the end (at most `max_pages` pages; `truncated` says so).

        A source is untrusted input: a Bundle that is not the shape FHIR says (or too large or too deep to read) is
        a SourceDataError on the first page, and on a later page a problem, the pages before it kept; an entry
        that cannot be read is a problem (the rest are kept), and a `next` link off the source's origin or outside
        its base path is not followed (its credentials would go with it): that is a problem too. `headers` go with
        the first page's request only (a CP-IS user token and trace id), never with a later page's.
        """
        bundle = await self._request("GET", resource_type, params=params, headers=headers)
        return await self._paged(bundle, resource_type, max_pages)

    async def batch(self, queries: list[Query], *, max_pages: int = MAX_PAGES) -> list[SearchResult | SourceError]:
        """All `queries` in one `batch` Bundle (one request), each answer paged to the end as `search` pages it.

        An entry the server failed is its SourceError, in its place (as the same search alone would have raised);
        the batch as a whole refused, unreachable or unreadable (larger than `max_bytes` too) raises.
        """
        asked = [f"{kind}?{_query_string(params)}" for kind, params in queries]  # each quoted once
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"request": {"method": "GET", "url": url}} for url in asked],
        }
        answer = await self._request("POST", "", json_body=bundle, repeatable=True)  # searches only: a read
        entries = answer.get("entry")
        if answer.get("resourceType") != "Bundle" or not isinstance(entries, list) or len(entries) != len(queries):
            raise self._data_error("batch answered without one entry per search", self.source.url)
        results: list[SearchResult | SourceError] = []
        for query, entry in zip(asked, entries, strict=True):
            url = self._url(query)
            try:
                results.append(await self._paged(self._entry_answer(entry, url), url, max_pages))
            except SourceError as exc:
                results.append(exc)
        return results

    def _entry_answer(self, entry: Any, url: str) -> dict[str, Any]:
        """A batch entry's searchset Bundle; the SourceError its status means, as `_decode` reads a whole answer."""
        response = entry.get("response") if isinstance(entry, dict) else None
        status_text = response.get("status") if isinstance(response, dict) else None
        code = str(status_text).split(" ", 1)[0] if isinstance(status_text, str) else ""
        if not code.isdigit():
            raise self._data_error("batch entry answered without a status", url)
        status = int(code)
        resource = entry.get("resource")
        if 200 <= status < 300:
            if not isinstance(resource, dict):
                raise self._data_error("batch entry answered with something that is not FHIR JSON", url)
            return resource
        outcome = response.get("outcome") if isinstance(response.get("outcome"), dict) else resource
        reason = f"HTTP {status}: {_outcome_text(outcome) or status_text[len(code) :].strip() or 'error'}"
        kwargs = {"source": self.source.name, "url": url, "status_code": status}
        if status in (401, 403):
            raise SourceAuthError(reason, **kwargs)
        if status == 429 or status >= 500:
            raise SourceUnavailable(reason, **kwargs)
        raise SourceRejected(reason, **kwargs)

    async def _paged(self, bundle: dict[str, Any], url: str, max_pages: int) -> SearchResult:
        """A search's first page `bundle` read, and the pages its next links lead to (see `search`)."""
        result = SearchResult()
        for page in range(1, max_pages + 1):
            try:
                if page > 1:
                    bundle = await self._request("GET", url)
                # The R4B models of a large page take seconds to build: in a reader thread, like its JSON.
                await off_the_loop(self._read_page, bundle, url, result, inline=not bundle.get("entry"))
            except SourceDataError as exc:
                if page == 1:
                    raise
                result.problems.append(f"page {page} {exc.reason}: it and any later pages not read")
                return result
            url = self._next_page(bundle, result)
            if not url:
                return result
        result.truncated = True
        return result

    def _read_page(self, bundle: dict[str, Any], url: str, result: SearchResult) -> None:
        """One page's entries into `result` (CPU work: off the loop); SourceDataError if it is not a search Bundle."""
        if bundle.get("resourceType") != "Bundle":
            found = bundle.get("resourceType")
            what = repr(found[:64]) if isinstance(found, str) else "no resourceType"
            raise self._data_error(f"search answered with {what}, not a Bundle", url)
        entries = bundle.get("entry")
        if entries is not None and not isinstance(entries, list):
            raise self._data_error("search answered with a Bundle whose entry is not a list", url)
        for number, entry in enumerate(entries or [], start=1):
            self._read_entry(number, entry, result)

    def _read_entry(self, number: int, entry: Any, result: SearchResult) -> None:
        if not isinstance(entry, dict):
            result.problems.append(f"entry {number} is not an object; left out")
            return
        search = entry.get("search") or {}
        if not isinstance(search, dict):
            result.problems.append(f"entry {number}: search is not an object")
            search = {}
        mode = search.get("mode", "match")
        try:
            resource = parse_resource(entry.get("resource"))
        except ValueError as exc:
            result.problems.append(str(exc))
            return
        if mode == "outcome" or resource.get_resource_type() == "OperationOutcome":
            return
        result.resources.append(resource)

    def _next_page(self, bundle: dict[str, Any], result: SearchResult) -> str:
        """The next page's absolute URL, or "" if there is none or it may not be followed (a problem says why)."""
        links = bundle.get("link")
        if links is None:
            return ""
        if not isinstance(links, list):
            result.problems.append("Bundle.link is not a list; any later pages not read")
            return ""
        for link in links:
            if not isinstance(link, dict):
                result.problems.append("a Bundle.link is not an object; any later pages not read")
                return ""
            if link.get("relation") != "next":
                continue
            target = link.get("url")
            if not isinstance(target, str) or not target.strip():
                result.problems.append("the next page link has no URL; later pages not read")
                return ""
            return self._on_source(target, result)
        return ""

    def _on_source(self, target: str, result: SearchResult) -> str:
        """`target` made absolute, if it is on the source's origin and under its base path; else "" and a problem."""
        base = httpx.URL(self.source.url + "/")
        try:
            url = base.join(target.strip())
            path = unquote(url.path)
        except (httpx.InvalidURL, ValueError, TypeError):
            result.problems.append("the next page link is not a URL; later pages not read")
            return ""
        under_base = path.startswith(base.path) and ".." not in path.split("/")
        if origin_of(url) == origin_of(base) and under_base:
            return str(url)
        where = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"
        result.problems.append(f"the next page link points outside this source ({where[:200]}); not followed")
        return ""

    async def read(self, resource_type: str, resource_id: str, *, headers: dict[str, str] | None = None) -> Resource:
        """`GET [type]/[id]`, parsed as an R4B resource; `headers` go with it (a PDS user token and request id)."""
        data = await self._request("GET", f"{resource_type}/{resource_id}", headers=headers)
        try:
            return await off_the_loop(parse_resource, data)
        except ValueError as exc:
            raise self._data_error(str(exc), f"{resource_type}/{resource_id}") from exc

    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; returns the transaction-response Bundle as JSON."""
        response = await self._request("POST", "", json_body=bundle)
        if response.get("resourceType") != "Bundle":
            raise self._data_error("transaction answered without a Bundle", self.source.url)
        return response

    async def capabilities(self) -> dict[str, Any]:
        """The source's CapabilityStatement; a SourceDataError unless it is the shape NeoSafe reads (then
        read_capabilities assumes the source can do everything, never that it holds nothing)."""
        statement = await self._request("GET", "metadata")
        if not _readable_capabilities(statement):
            raise self._data_error("answered with a CapabilityStatement NeoSafe cannot read", "metadata")
        return statement

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """`_send`, timed and counted per source for /metrics."""
        started = time.perf_counter()
        try:
            return await self._send(method, url, **kwargs)
        except SourceError as exc:
            SOURCE_FAILURES.labels(self.source.name, type(exc).__name__).inc()
            raise
        finally:
            SOURCE_SECONDS.labels(self.source.name).observe(time.perf_counter() - started)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str | list[str]] | None = None,
        json_body: dict[str, Any] | None = None,
        repeatable: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One request; `repeatable` (default: a GET) if asking twice changes nothing on the server, so a request
        cut off on a kept connection the server had closed is asked once more, on a new one."""
        content = None
        headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = FHIR_JSON
        ask = partial(self._once, method, url, params=params, content=content, headers=headers)
        try:
            try:
                response, body = await ask()
            except DROPPED:
                if not (method == "GET" if repeatable is None else repeatable):
                    raise
                response, body = await ask()
        except httpx.TimeoutException as exc:
            raise SourceTimeout(
                f"no answer within {self.source.timeout_s:g} s", source=self.source.name, url=self._url(url)
            ) from exc
        except httpx.TransportError as exc:
            raise SourceUnavailable(
                f"could not connect ({type(exc).__name__})", source=self.source.name, url=self._url(url)
            ) from exc
        except httpx.DecodingError as exc:
            raise self._data_error("answered with a body that could not be decoded", url) from exc
        return await self._decode(response, body)

    async def _once(self, method: str, url: str, **request: Any) -> tuple[httpx.Response, bytes | None]:
        async with self._http.stream(method, url, **request) as response:
            return response, await self._read_capped(response)

    async def _read_capped(self, response: httpx.Response) -> bytes | None:
        """The answer's body, or None if it is larger than `max_bytes`: then it is not read (if its Content-Length
        says so) or not read further (a chunked or compressed one, counted as it arrives)."""
        announced = response.headers.get("Content-Length", "").strip()
        if announced.isdigit() and int(announced) > self.max_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _decode(self, response: httpx.Response, content: bytes | None) -> dict[str, Any]:
        url = str(response.request.url)
        if content is None and response.is_success:
            raise self._data_error(f"answered with more than {_in_mb(self.max_bytes)} (the most NeoSafe reads)", url)
        try:
            body = await off_the_loop(_json, content, inline=len(content) <= INLINE_BYTES) if content else None
        except _TooDeep as exc:
            if response.is_success:
                raise self._data_error(f"answered with JSON nested deeper than {MAX_DEPTH} levels", url) from exc
            body = None
        except ValueError:
            body = None
        if response.is_success:
            if not isinstance(body, dict):
                raise self._data_error("answered with something that is not FHIR JSON", url)
            return body
        message = _outcome_text(body) or response.reason_phrase or "error"
        status = response.status_code
        reason = f"HTTP {status}: {message}"
        kwargs = {"source": self.source.name, "url": url, "status_code": status}
        if status in (401, 403):
            raise SourceAuthError(reason, **kwargs)
        if status == 429 or status >= 500:
            raise SourceUnavailable(reason, retry_after_s=_retry_after(response), **kwargs)
        raise SourceRejected(reason, **kwargs)

    def _data_error(self, reason: str, url: str) -> SourceError:
        return SourceDataError(reason, source=self.source.name, url=self._url(url))

    def _url(self, url: str) -> str:
        return url if url.startswith("http") else f"{self.source.url}/{url}"


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date; None if absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _readable_capabilities(statement: dict[str, Any]) -> bool:
    """Whether what capabilities.parse_capabilities reads is the shape it expects: rest[].interaction[].code and
    rest[].resource[], each with a type, searchParam[].name and searchRevInclude[] (strings)."""

    def listed(value: Any, kind: type) -> bool:  # absent, or a list of `kind`
        return value is None or (isinstance(value, list) and all(isinstance(v, kind) for v in value))

    rests = statement.get("rest")
    if not listed(rests, dict):
        return False
    for rest in rests or []:
        interactions = rest.get("interaction")
        if not listed(interactions, dict) or not all(isinstance(i.get("code", ""), str) for i in interactions or []):
            return False
        resources = rest.get("resource")
        if not listed(resources, dict):
            return False
        for resource in resources or []:
            params = resource.get("searchParam")
            if not (
                isinstance(resource.get("type", ""), str)
                and listed(params, dict)
                and all(isinstance(p.get("name") or "", str) for p in params or [])
                and listed(resource.get("searchRevInclude"), str)
            ):
                return False
    return True


def _outcome_text(body: Any) -> str:
    """The human-readable text of an OperationOutcome, if the body is one."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    issues = body.get("issue")
    texts = []
    for issue in issues if isinstance(issues, list) else []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        text = issue.get("diagnostics") or (details.get("text") if isinstance(details, dict) else None)
        if text:  # shown to clinicians and sent on as JSON: valid Unicode only (a lone surrogate becomes "?")
            texts.append(str(text)[:300].encode("utf-8", "replace").decode("utf-8"))
    return "; ".join(texts)[:600]
