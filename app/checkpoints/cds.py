"""CDS Hooks (issue 17): who may call NeoSafe's CDS services, and which cards the EPR shows for a baby.

Decided here once, for `web/cds_hooks.py` to answer over HTTP. The EPR is trusted only as far as its JWT goes: the
issuer must be on the allow-list (settings.cds_clients_file), the JWT signed (RS384 or ES384) by a key of the JWK
Set that list names (never one the JWT points at), addressed to this service, unexpired, and its `jti` never seen
before by any instance (the cdsseenjwt table). The prefetched Patient gives only the NHS number; whether a
checklist is due, or a discharge held, is read from NeoSafe's own sources and saved checklists. The caller is a
machine user whose role sees no restricted record, and a card's words name no record: they say what to do, and the
link opens NeoSafe, where a person sees what their role may.
"""

from __future__ import annotations

import asyncio
import ipaddress
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt
import nhs_number as nhs
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from app.assessments import Assessment, NewInformation
from app.config import ConfigError
from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.forms import LONDON
from app.nhs_style import nhs_date
from app.sources import SourceError

from .outcomes import Refused
from .policy import Action
from .schedule import completions as completed
from .schedule import fhir_instant, scheduled_checks
from .service import Checkpoints
from .users import Role, User
from .worklist import latest_versions

__all__ = [
    "ALGORITHMS",
    "CDS_ROLE",
    "SERVICES",
    "Card",
    "CdsClient",
    "CdsHooks",
    "CdsSeenJwt",
    "NotAuthenticated",
    "PrefetchMissing",
    "Service",
    "load_cds_clients",
]

ALGORITHMS = ("RS384", "ES384")  # what the CDS Hooks specification has EPRs sign with
LEEWAY = timedelta(seconds=30)  # clock skew allowed between the EPR and NeoSafe
LONGEST_LIFE = timedelta(minutes=5)  # the specification's longest JWT lifetime: a longer one is refused
JWKS_TIMEOUT_S = 5
CDS_ROLE = Role("cds-client", "EPR decision support (CDS Hooks)", frozenset(), sees_restricted=False)
Indicator = Literal["info", "warning", "critical"]
SUMMARY_MAX = 140  # CDS Hooks: a card's summary


class CdsSeenJwt(SQLModel, table=True):
    """A hook call's JWT id, kept until the JWT expires: the same id again from the same EPR is a replay, refused
    by every instance sharing the database (the primary key decides, not a cache)."""

    issuer: str = Field(primary_key=True)
    jti: str = Field(primary_key=True)
    expires_at: datetime = Field(index=True)
    seen_at: datetime


class NotAuthenticated(Refused):
    """The hook call's JWT is refused; the message says why (safe to show the EPR: it names no key or secret)."""


class PrefetchMissing(Refused):
    """The EPR sent no Patient to read the baby's NHS number from (CDS Hooks: 412)."""


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]

    def discovery(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "prefetch": self.prefetch,
        }


PATIENT = {"patient": "Patient/{{context.patientId}}"}
STAY = {**PATIENT, "encounter": "Encounter/{{context.encounterId}}"}
SERVICES: dict[str, Service] = {
    s.id: s
    for s in (
        Service(
            "neosafe-patient-view",
            "patient-view",
            "NeoSafe safeguarding checklists",
            "Whether the baby's safeguarding admission checklist is due, and new safeguarding information since "
            "admission.",
            PATIENT,
        ),
        Service(
            "neosafe-encounter-start",
            "encounter-start",
            "NeoSafe safeguarding admission checklist",
            "On admission to the neonatal unit: the safeguarding admission checklist due, and new safeguarding "
            "information.",
            STAY,
        ),
        Service(
            "neosafe-encounter-discharge",
            "encounter-discharge",
            "NeoSafe safeguarding discharge hold",
            "A critical card while the discharge checklist's safeguarding findings hold the baby's discharge.",
            STAY,
        ),
    )
}


@dataclass(frozen=True)
class Card:
    """What the EPR shows: `summary` at most 140 characters; neither names a record, only what to do."""

    summary: str
    indicator: Indicator
    detail: str
    nhs_number: str | None  # the baby NeoSafe opens on; None: NeoSafe could not tell which baby

    def __post_init__(self) -> None:
        if len(self.summary) > SUMMARY_MAX:
            raise ValueError(f"a card's summary is at most {SUMMARY_MAX} characters: {self.summary!r}")


@dataclass(frozen=True)
class CdsClient:
    """An EPR allowed to call NeoSafe's CDS services: its JWTs' `iss`, and where its public keys are."""

    name: str
    issuer: str
    jwks_url: str
    client_id: str | None = None  # its JWTs' sub, where the trust pins it (CDS Hooks: allow-list iss, jku and sub)


REQUIRED_KEYS = frozenset({"name", "issuer", "jwks_url"})


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_cds_clients(path: Path) -> dict[str, CdsClient]:
    """The allow-list, by issuer; ConfigError naming each problem. A JWK Set URL must be https (http only on
    loopback, for tests): the keys decide who may call."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the CDS clients file {path}: {exc}") from exc
    clients: dict[str, CdsClient] = {}
    for n, table in enumerate(data.get("clients", []), 1):
        where = f"{path.name}: [[clients]] number {n}"
        if not isinstance(table, dict) or not REQUIRED_KEYS <= set(table) <= REQUIRED_KEYS | {"client_id"}:
            raise ConfigError(f"{where} must have exactly name, issuer and jwks_url (and client_id, if pinned)")
        if not all(isinstance(v, str) and v.strip() for v in table.values()):
            raise ConfigError(f"{where}: name, issuer, jwks_url and client_id must be non-empty strings")
        url = urlsplit(table["jwks_url"])
        if not (url.scheme == "https" or (url.scheme == "http" and _loopback(url.hostname or ""))):
            raise ConfigError(f"{where}: jwks_url must be an https URL")
        if table["issuer"] in clients:
            raise ConfigError(f"{where}: issuer {table['issuer']} is listed twice")
        clients[table["issuer"]] = CdsClient(table["name"], table["issuer"], table["jwks_url"], table.get("client_id"))
    return clients


def machine_user(client: CdsClient) -> User:
    return User(f"cds-client:{client.name}", client.name, CDS_ROLE)


def _nobody(issuer: object) -> User:
    """Who a refused call is audited as: the issuer it claimed (cut short: it is the caller's to say), if any."""
    claimed = issuer[:200] if isinstance(issuer, str) and issuer else "unknown"
    return User(f"cds-client:{claimed}", claimed, CDS_ROLE)


def baby_number(patient: dict[str, Any] | None) -> str | None:
    """The NHS number on the prefetched Patient, if it has a valid one."""
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise PrefetchMissing("the request's prefetch has no Patient (prefetch key 'patient')")
    for identifier in patient.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == NHS_NUMBER_SYSTEM:
            value = str(identifier.get("value") or "").replace(" ", "")
            if nhs.is_valid(value):
                return value
    return None


def _stay(encounters: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The baby's stay on the unit: the in-progress one, else the latest."""
    latest = sorted(
        encounters, key=lambda e: (e.get("status") == "in-progress", (e.get("period") or {}).get("start") or "")
    )
    return latest[-1] if latest else None


class CdsHooks:
    """The CDS Hooks use cases over the Checkpoints service."""

    def __init__(self, checkpoints: Checkpoints, clients: dict[str, CdsClient]) -> None:
        self.checkpoints = checkpoints
        self.clients = clients
        self._keys = {
            c.issuer: jwt.PyJWKClient(c.jwks_url, cache_jwk_set=True, lifespan=300, timeout=JWKS_TIMEOUT_S)
            for c in clients.values()
        }

    @classmethod
    def wire(cls, checkpoints: Checkpoints) -> CdsHooks:
        return cls(checkpoints, load_cds_clients(checkpoints.settings.cds_clients_file))

    async def caller(self, authorization: str | None, audiences: list[str]) -> User:
        """The EPR calling, as a machine user, from its `Authorization: Bearer` JWT addressed to one of
        `audiences`; NotAuthenticated, the refusal audited, for anything less."""
        issuer = None
        try:
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise NotAuthenticated("no JWT: send the EPR's signed JWT as Authorization: Bearer")
            try:
                header = jwt.get_unverified_header(token)
                issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            except jwt.InvalidTokenError as exc:
                raise NotAuthenticated("the Authorization header does not carry a JWT") from exc
            return await self._verified(token, header, issuer, audiences)
        except NotAuthenticated as exc:
            await self.checkpoints.audit(_nobody(issuer), "cds-hook", outcome="refused", detail=str(exc))
            raise

    async def _verified(self, token: str, header: dict[str, Any], issuer: object, audiences: list[str]) -> User:
        if header.get("alg") not in ALGORITHMS:
            raise NotAuthenticated(f"the JWT is signed with {header.get('alg')!r}: only RS384 or ES384 are accepted")
        client = self.clients.get(issuer) if isinstance(issuer, str) else None
        if client is None:
            raise NotAuthenticated("the JWT's issuer (iss) is not an EPR allowed to call NeoSafe")
        if not audiences:
            raise NotAuthenticated("NeoSafe's own URL (NEOSAFE_PUBLIC_URL) is not set, so no JWT is addressed to it")
        try:
            key = await asyncio.to_thread(self._keys[client.issuer].get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise NotAuthenticated("the issuer's JWK Set could not be read, so the JWT cannot be verified") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise NotAuthenticated("the JWT's key (kid) is not in the issuer's JWK Set") from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(ALGORITHMS),
                audience=audiences,
                issuer=client.issuer,
                leeway=LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise NotAuthenticated(f"the JWT has no {exc.claim} claim") from exc
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("the JWT has expired (exp)") from exc
        except jwt.InvalidAudienceError as exc:
            raise NotAuthenticated("the JWT is not addressed to this CDS service (aud)") from exc
        except jwt.InvalidSignatureError as exc:
            raise NotAuthenticated("the JWT's signature does not verify with the issuer's key") from exc
        except jwt.InvalidTokenError as exc:
            raise NotAuthenticated(f"the JWT is not valid: {exc}") from exc
        if client.client_id is not None and claims.get("sub") != client.client_id:
            raise NotAuthenticated("the JWT's sub is not the client_id this EPR is allowed to call NeoSafe as")
        now = self.checkpoints.clock()
        expires = datetime.fromtimestamp(claims["exp"], UTC)
        if expires > now + LONGEST_LIFE + LEEWAY:
            raise NotAuthenticated("the JWT lives longer than 5 minutes (exp): the EPR must sign one per call")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or len(jti) > 255:
            raise NotAuthenticated("the JWT's jti must be a string of at most 255 characters")
        if not await self._first_use(client.issuer, jti, expires, now):
            raise NotAuthenticated("the JWT has been used before (its jti): a replayed call is refused")
        return machine_user(client)

    async def _first_use(self, issuer: str, jti: str, expires: datetime, now: datetime) -> bool:
        """Keep the JWT's id until it expires; False if it is kept already. Expired ids go: they cannot come back."""
        async with self.checkpoints.sessions() as session:
            await session.exec(delete(CdsSeenJwt).where(CdsSeenJwt.expires_at < now - LEEWAY))
            session.add(CdsSeenJwt(issuer=issuer, jti=jti, expires_at=expires, seen_at=now))
            try:
                await session.commit()
            except IntegrityError:
                return False
        return True

    async def cards(self, user: User, service: Service, patient: dict[str, Any] | None) -> list[Card]:
        """The cards for the baby the prefetched `patient` names, for `service`'s hook. Audited."""
        number = baby_number(patient)
        checkpoints = self.checkpoints
        await checkpoints.authorise(user, Action.VIEW, number)
        if number is None:
            await checkpoints.audit(user, f"cds-{service.hook}", None, outcome="refused", detail="no NHS number")
            return [
                Card(
                    "Safeguarding checks not checked: no NHS number for this baby",
                    "warning",
                    "NeoSafe finds a baby by NHS number. Record it, or open NeoSafe and search when it is known.",
                    None,
                )
            ]
        try:
            stay, unread = await self._stay(number), False
        except SourceError:  # not checked is never "nothing due": the card says so
            stay, unread = None, True
        saved = [s.assessment for s in await checkpoints.saved(number)]
        if service.hook == "encounter-discharge":  # a held discharge is NeoSafe's own to tell, record read or not
            found = await self._discharge(number, stay, saved)
        else:
            found = [] if unread else self._admission(number, stay, saved)
        if unread:
            found.append(self._not_checked(number))
        found += self._new_information(number, (await checkpoints.new_information(user, [number])).get(number, []))
        await checkpoints.audit(user, f"cds-{service.hook}", number, detail=f"{len(found)} card(s)")
        return found

    async def _stay(self, number: str) -> dict[str, Any] | None:
        """The baby's stay in the unit's record (the write-back source), not the EPR's say-so."""
        checkpoints = self.checkpoints
        async with checkpoints.client(checkpoints.write_back) as client:
            patients = await client.search("Patient", {"identifier": f"{NHS_NUMBER_SYSTEM}|{number}"})
            ids = [p.id for p in patients.resources if p.id]
            if not ids:
                return None
            found = await client.search("Encounter", {"subject": ",".join(f"Patient/{i}" for i in ids)})
        return _stay([e.model_dump(mode="json") for e in found.resources])

    def _not_checked(self, number: str) -> Card:
        return Card(
            "Safeguarding checks not checked: NeoSafe could not read the unit's record",
            "warning",
            "Whether a safeguarding checklist is due is not known. Open NeoSafe to check.",
            number,
        )

    def _new_information(self, number: str, new: list[NewInformation]) -> list[Card]:
        """New information the watch job found and no nurse has acknowledged yet: counted, never named."""
        if not new:
            return []
        count = len(new)
        return [
            Card(
                "New safeguarding information since admission",
                "warning",
                f"{count} new record{'s' if count > 1 else ''} found since the last checkpoint. Review and "
                "acknowledge in NeoSafe.",
                number,
            )
        ]

    def _admission(self, number: str, stay: dict[str, Any] | None, saved: list[Assessment]) -> list[Card]:
        if stay is None or stay.get("status") != "in-progress":
            return []  # not on the unit: nothing falls due
        checks = scheduled_checks(stay, completed(saved), now=self.checkpoints.clock())
        admission = next(c for c in checks if c.checkpoint == "admission")
        match admission.state:
            case "overdue":
                return [
                    Card(
                        "Safeguarding admission checklist overdue",
                        "warning",
                        f"It was due by {nhs_date(admission.due_at.astimezone(LONDON))}. Complete it in NeoSafe.",
                        number,
                    )
                ]
            case "due":
                return [
                    Card(
                        "Safeguarding admission checklist due",
                        "info",
                        f"Due by {nhs_date(admission.due_at.astimezone(LONDON))}. Complete it in NeoSafe.",
                        number,
                    )
                ]
            case "not-known":
                return [
                    Card(
                        "Safeguarding admission checklist: due time not known",
                        "warning",
                        "The admission time is not in the unit's record, so NeoSafe cannot tell when it is due.",
                        number,
                    )
                ]
        return []

    async def _discharge(self, number: str, stay: dict[str, Any] | None, saved: list[Assessment]) -> list[Card]:
        """A critical card while the stay's latest discharge checklist is held; a warning if there is none. With no
        stay known (not in the unit's record, or it could not be read), the baby's latest discharge checklist."""
        admitted = fhir_instant(((stay or {}).get("period") or {}).get("start"))  # None: every discharge checklist
        mine = [
            a
            for a in saved
            if a.checkpoint == "discharge" and (admitted is None or fhir_instant(a.created_at) >= admitted)
        ]
        if not mine:
            return [
                Card(
                    "Safeguarding discharge checklist not done",
                    "warning",
                    "Complete the discharge checklist in NeoSafe before the baby goes home.",
                    number,
                )
            ]
        latest = max(latest_versions(mine), key=lambda a: fhir_instant(a.created_at))
        hold = await self.checkpoints.hold_of(latest)
        if hold is None or not hold.held:
            return []
        count = len(hold.open)
        return [
            Card(
                "Discharge held: safeguarding findings are not resolved in NeoSafe",
                "critical",
                f"{count} finding{'s' if count > 1 else ''} of the discharge checklist hold{'' if count > 1 else 's'}"
                " this baby's discharge. Resolve or override them in NeoSafe (the safeguarding lead) first.",
                number,
            )
        ]
