"""Asking one of NHS England's user-restricted national APIs (CP-IS, the Patient Flags API) about one person.

Each is asked only with the signed-in clinician's NHS CIS2 token: with none the answer is *not checked* (NEEDS_SIGN_IN)
and the API is not called, never "none found". Only the first page is read (a later page would go without the
token), its resources classified by the API's own reader; a timeout, a refusal or an answer NeoSafe cannot read makes
the answer unavailable with the reason, never a crash, and only the error's class is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from app.config import ConfigError
from app.sources import FhirClient, SearchResult, SourceError, off_the_loop

from .checks import Answer
from .classify import classify
from .mappings import Mappings, RecordType
from .models import Person, Record

__all__ = ["NEEDS_SIGN_IN", "UNREADABLE", "ask_national", "classified_about", "first_page", "not_signed_in"]

NEEDS_SIGN_IN = "needs the clinician's NHS Care Identity sign-in"
# what reading an unexpected shape raises (a list where an object was due, a missing key, nesting too deep)
UNREADABLE = (AttributeError, KeyError, TypeError, ValueError, IndexError, RecursionError)

log = logging.getLogger(__name__)
T = TypeVar("T")


def not_signed_in() -> Answer:
    return Answer(by_number=True, unchecked=NEEDS_SIGN_IN)


async def first_page(
    client: FhirClient,
    resource_type: str,
    fetch: Callable[[], Awaitable[SearchResult]],
    read: Callable[[list[dict[str, Any]]], tuple[T, list[str]]],
) -> tuple[T | None, list[str], str | None]:
    """`fetch` the first page of `resource_type` and `read` it (a thread's work, off the loop): (what was read, its
    problems, None), or (None, the problems found so far, why it could not be read), never a crash."""
    problems: list[str] = []
    try:
        async with asyncio.timeout(client.source.timeout_s):
            result = await fetch()
        found = await off_the_loop(lambda: [r.model_dump(mode="json") for r in result.resources])
        problems.extend(f"{resource_type}: {p}" for p in result.problems)
        if result.truncated:  # a later page would go without the user's token: not asked for
            problems.append(f"{resource_type}: more than one page of results; only the first read")
        value, more = await off_the_loop(read, found)
    except TimeoutError:
        return None, problems, f"no answer within {client.source.timeout_s:g} s (timeout)"
    except SourceError as exc:
        return None, problems, exc.reason
    except ConfigError as exc:
        return None, problems, f"misconfigured: {exc}"
    except UNREADABLE as exc:  # only the class is logged: the message may carry what the API sent
        log.warning("source %s answered in a shape NeoSafe could not read (%s)", client.source.name, type(exc).__name__)
        return None, problems, "answered in a shape NeoSafe could not read"
    return value, problems + more, None


async def ask_national(
    client: FhirClient,
    resource_type: str,
    fetch: Callable[[], Awaitable[SearchResult]],
    read: Callable[[list[dict[str, Any]]], tuple[list[Record], list[str]]],
) -> Answer:
    """`fetch` the first page of `resource_type` and `read` it into records: an Answer, unavailable with the reason
    if it could not be read."""
    records, problems, error = await first_page(client, resource_type, fetch, read)
    return Answer(by_number=True, records=records or [], problems=problems, error=error)


def classified_about(
    found: list[dict[str, Any]],
    *,
    resource_type: str,
    about: Callable[[dict[str, Any]], bool],
    rule: RecordType,
    mappings: Mappings,
    source: str,
    person: Person,
    now: datetime,
) -> tuple[list[tuple[dict[str, Any], Record]], list[str]]:
    """Each `resource_type` resource in the answer that is `about` the person, classified by `rule`, beside the
    resource; a problem for each one about another NHS number or none (left out: the API is matched by number)."""
    kept: list[tuple[dict[str, Any], Record]] = []
    problems: list[str] = []
    for resource in found:
        if resource.get("resourceType") != resource_type:
            continue  # an OperationOutcome or included resource
        if not about(resource):
            problems.append(f"a {resource_type} not about the NHS number asked about (or naming none); left out")
            continue
        record = classify(resource, rule=rule, mappings=mappings, source=source, person=person, today=now.date())
        if record is not None:
            kept.append((resource, record))
    return kept, problems
