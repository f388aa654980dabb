"""Watching the stay by FHIR Subscription (R4 rest-hook), where a source offers one: a prompt to look sooner.

Where a source's CapabilityStatement declares Subscription, each watch pass makes sure NeoSafe has one Subscription
there per criteria in watch.toml `[subscriptions]`: found again by its tag (so one however many instances start, as
only the pass holding the watch lease registers), made again if the server lost it or turned it off, its `end` moved
on (one left behind when NeoSafe goes ends by itself). Its channel header carries a random secret; NeoSafe keeps
only its hash (app.assessments.subscribed).

A notification is never evidence: `notification` checks its secret and reads from it at most whom it is about (a
Patient on that source), and the watch job then looks again at those babies, or at the whole unit if it cannot tell,
by the same code as a poll, so it finds exactly what a poll would. The passes every interval go on regardless, for
sources without Subscription and for a notification that was lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from app.assessments.subscribed import (
    WatchSubscription,
    drop_subscriptions,
    save_subscription,
    subscription_by_key,
    subscriptions_of,
)
from app.config import ConfigError, SourceSettings, read_toml
from app.fhir_systems import WATCH_SUBSCRIPTION_TAG_SYSTEM
from app.forms import Issue
from app.picture import Mappings
from app.sources import Capabilities, SourceError

from .outcomes import Invalid, Refused
from .overrides import Overrides
from .users import WATCHER

__all__ = [
    "NOTIFICATION_PATH",
    "Named",
    "Subscribing",
    "SubscriptionRules",
    "Unauthorised",
    "load_subscription_rules",
    "named_in",
    "offers_subscriptions",
]

log = logging.getLogger(__name__)

NOTIFICATION_PATH = "/fhir/notifications"  # + /{key}: app/web/fhir_notifications.py
LIVE = ("requested", "active")  # R4 subscription-status: "error" and "off" are lost to NeoSafe
_NOBODY = hashlib.sha256(b"no such subscription").hexdigest()  # compared against, so an unknown key takes as long


class Unauthorised(Refused):
    """A notification without its Subscription's secret (401)."""


@dataclass(frozen=True)
class SubscriptionRules:
    criteria: tuple[str, ...]
    lifetime: timedelta


@dataclass(frozen=True)
class Named:
    """Whom one notification may be about: Patient ids on `source`; none means it could not tell (look at all)."""

    source: str
    patient_ids: frozenset[str] = frozenset()


def load_subscription_rules(directory: Path, mappings: Mappings) -> SubscriptionRules:
    """watch.toml `[subscriptions]`; each criteria "Type?params" of a record type NeoSafe reads (record-types.toml)."""
    table = read_toml(directory / "watch.toml").get("subscriptions", {})
    try:
        rules = SubscriptionRules(
            tuple(str(c) for c in table.get("criteria", [])), timedelta(hours=float(table.get("lifetime_hours", 24)))
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"watch.toml [subscriptions]: {exc!r} is not as the file's comments describe") from exc
    types = {t.resource_type for t in mappings.record_types}
    if bad := [c for c in rules.criteria if "?" not in c or c.split("?", 1)[0] not in types]:
        raise ConfigError(f"watch.toml [subscriptions]: criteria not 'Type?params' of a record type: {bad}")
    if rules.lifetime < timedelta(hours=1):
        raise ConfigError("watch.toml [subscriptions]: lifetime_hours must be 1 or more")
    return rules


def offers_subscriptions(capabilities: Capabilities | None) -> bool:
    """The source said it holds Subscription (never assumed of one that did not say)."""
    return capabilities is not None and capabilities.types is not None and "Subscription" in capabilities.types


def named_in(source: str, content: bytes) -> Named:
    """Whom a notification's body names: empty (R4 "no payload"), a resource, or a Bundle of them. Invalid if it is
    not FHIR JSON. Read for whom to look at only: nothing in it is kept or shown."""
    if not content.strip():
        return Named(source)
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise Invalid([Issue("body", "notification", "the notification is not JSON")]) from exc
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise Invalid([Issue("body", "notification", "the notification is not a FHIR resource")])
    resources = [body]
    if body["resourceType"] == "Bundle":
        entries = body.get("entry") or []
        resources = [e.get("resource") for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    ids = set()
    for resource in resources:
        if resource.get("resourceType") in ("Parameters", "SubscriptionStatus"):  # the backport's status: nobody
            continue
        reference = next((r for k in ("subject", "patient") if isinstance(r := resource.get(k), dict)), {})
        kind, _, patient_id = str(reference.get("reference") or "").partition("/")
        if kind != "Patient" or not patient_id or "/" in patient_id:
            return Named(source)  # about someone it does not say, or not as a Patient here: look at everyone
        ids.add(patient_id)
    return Named(source, frozenset(ids))


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _instant(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _ends_before(subscription: dict[str, Any], when: datetime) -> bool:
    """It has no `end`, or one NeoSafe cannot read, or one before `when`: time to move it on."""
    try:
        return datetime.fromisoformat(str(subscription["end"])) < when
    except (KeyError, ValueError, TypeError):
        return True


class Subscribing(Overrides):
    @property
    def subscription_rules(self) -> SubscriptionRules:
        return load_subscription_rules(self.settings.mappings_dir, self.mappings)

    def _tag_code(self, criteria: str) -> str:
        """The tag that finds this deployment's Subscription for `criteria` again (another NeoSafe's differs)."""
        seed = f"{self.settings.public_url}\n{criteria}".encode()
        return f"{criteria.split('?', 1)[0]}-{hashlib.sha256(seed).hexdigest()[:16]}"

    async def subscribe(self, now: datetime) -> int:
        """Make sure each source that offers Subscription has NeoSafe's, one per criteria; how many are in place.
        Run by the pass that holds the watch lease. A source that fails is logged and tried at the next pass."""
        rules = self.subscription_rules
        if not self.settings.public_url or not rules.criteria:
            return 0
        generic = [s for s in self.sources if s.profile == "fhir"]  # CP-IS takes no Subscription, nor an app's call
        clients = {s.name: self.client(s) for s in generic}
        capabilities = await self.capabilities.wanted(clients)
        placed = 0
        for source in generic:
            if not offers_subscriptions(capabilities.get(source.name)):
                continue
            for criteria in rules.criteria:
                try:
                    placed += await self._subscribed(source, criteria, rules.lifetime, now)
                except SourceError as exc:
                    log.warning("subscription on %s not made (%s)", source.name, type(exc).__name__)
        return placed

    async def _subscribed(self, source: SourceSettings, criteria: str, lifetime: timedelta, now: datetime) -> int:
        """One live Subscription of ours for `criteria` on `source`: kept (end moved on), or made anew; any other
        of ours there (lost, off, a duplicate, one whose secret is not in the database) deleted."""
        code = self._tag_code(criteria)
        rows = {
            r.subscription_id: r for r in await subscriptions_of(self.sessions, source.name) if r.criteria == criteria
        }
        async with self.client(source) as client:
            found = await client.search("Subscription", {"_tag": f"{WATCH_SUBSCRIPTION_TAG_SYSTEM}|{code}"})
            held = [r.model_dump(mode="json", exclude_none=True) for r in found.resources]
            keep = next((s for s in held if s.get("status") in LIVE and self._ours(s, rows.get(s.get("id")))), None)
            entries = [
                {"request": {"method": "DELETE", "url": f"Subscription/{s['id']}"}} for s in held if s is not keep
            ]
            row = rows.get(keep["id"]) if keep else None
            end = _instant(now + lifetime)
            if keep is not None and _ends_before(keep, now + lifetime / 2):
                entries.append(
                    {
                        "resource": {**keep, "end": end},
                        "request": {"method": "PUT", "url": f"Subscription/{keep['id']}"},
                    }
                )
            secret = None
            if row is None:
                secret = secrets.token_urlsafe(32)
                row = WatchSubscription(
                    key=uuid.uuid4().hex, source=source.name, criteria=criteria, secret_sha256=_secret_hash(secret)
                )
                await save_subscription(self.sessions, row)  # before the server can notify
                entries.append(
                    {
                        "resource": self._subscription(row, code, secret, end),
                        "request": {"method": "POST", "url": "Subscription"},
                    }
                )
            answer = (
                await client.transaction({"resourceType": "Bundle", "type": "transaction", "entry": entries})
                if entries
                else {}
            )
        if secret is not None:
            location = str(((answer.get("entry") or [{}])[-1].get("response") or {}).get("location") or "")
            row.subscription_id = location.split("Subscription/", 1)[-1].split("/", 1)[0] or None
            await save_subscription(self.sessions, row)
            await self.audit(WATCHER, "subscription-made", detail=f"on {source.name} for {criteria}")
        if stale := [r.key for r in rows.values() if r.key != row.key]:
            await drop_subscriptions(self.sessions, stale)
        return 1

    def _endpoint(self, row: WatchSubscription) -> str:
        return f"{str(self.settings.public_url).rstrip('/')}{NOTIFICATION_PATH}/{row.key}"

    def _ours(self, held: dict[str, Any], row: WatchSubscription | None) -> bool:
        return row is not None and (held.get("channel") or {}).get("endpoint") == self._endpoint(row)

    def _subscription(self, row: WatchSubscription, code: str, secret: str, end: str) -> dict[str, Any]:
        return {
            "resourceType": "Subscription",
            "meta": {"tag": [{"system": WATCH_SUBSCRIPTION_TAG_SYSTEM, "code": code}]},
            "status": "requested",
            "end": end,
            "reason": "NeoSafe, watching the stay: look again at the babies on the unit when a record changes",
            "criteria": row.criteria,
            "channel": {
                "type": "rest-hook",
                "endpoint": self._endpoint(row),
                "payload": "application/fhir+json",
                "header": [f"Authorization: Bearer {secret}"],
            },
        }

    async def notification(self, key: str, authorization: str | None, content: bytes) -> Named:
        """Whom a notification to Subscription `key` is about, once its secret is checked (in constant time;
        Unauthorised, audited without patient data, if wrong or missing). Invalid if its body is not FHIR JSON."""
        row = await subscription_by_key(self.sessions, key)
        scheme, _, token = (authorization or "").partition(" ")
        given = _secret_hash(token.strip()) if scheme.lower() == "bearer" and token.strip() else ""
        if not hmac.compare_digest(given.encode(), (row.secret_sha256 if row else _NOBODY).encode()) or row is None:
            await self.audit(WATCHER, "notification-refused", detail="wrong or missing secret")
            raise Unauthorised("this notification does not carry its subscription's secret")
        return named_in(row.source, content)
