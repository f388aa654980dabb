"""SMART App Launch 2.x, EHR launch (issue 17): which EPRs may launch NeoSafe, and which baby a launch opens.

Decided here once, for `web/smart_launch.py` to run the OAuth steps over HTTP. The EPR is trusted only as far as
the allow-list goes (settings.smart_launch_file): an `iss` not on it is refused before NeoSafe sends the browser
anywhere, so no launch link can redirect a clinician to an attacker's server. Everything the EPR answers is
untrusted input: its SMART configuration must name https endpoints and support PKCE S256, and the baby is the NHS
number on the Patient its FHIR server returns for the token's `patient`, or no baby at all (a clear refusal,
never a guess). Each launch, opened or refused, is audited.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.config import ConfigError, SourceSettings

from .cds import PrefetchMissing, _loopback, baby_number
from .outcomes import Refused
from .service import Checkpoints
from .users import Role, User

__all__ = [
    "REQUIRED_SCOPES",
    "Endpoints",
    "EprUnreachable",
    "LaunchClient",
    "LaunchRefused",
    "Launches",
    "check_write_back_sources",
    "load_launch_clients",
]

REQUIRED_SCOPES = ("launch", "openid", "fhirUser")  # the launch context, and who the clinician is
DEFAULT_SCOPES = "launch openid fhirUser patient/*.rs"
TIMEOUT_S = 10
MOST_BYTES = 1_000_000  # the largest SMART configuration or Patient read from an EPR
MOST_LAUNCH_CHARS = 2000  # an EPR's launch value is opaque, and passed back to it: nothing longer is taken
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 id: nothing else goes into a URL NeoSafe requests
_NOBODY = Role("none", "No NeoSafe role", frozenset(), sees_restricted=False)  # who a refused launch is audited as


class LaunchRefused(Refused):
    """The launch cannot open NeoSafe; the message says why, in words for the clinician (400)."""


class EprUnreachable(Refused):
    """The EPR's servers could not be reached or answered something that is not what SMART specifies."""


@dataclass(frozen=True)
class LaunchClient:
    """An EPR allowed to launch NeoSafe: its FHIR server (`iss`) and NeoSafe's registration with it."""

    name: str
    iss: str
    client_id: str
    client_secret: str | None  # None: a public client, PKCE only
    scopes: str
    # The source (sources file) that checklists begun in a launch from this EPR are written to: the EPR's own FHIR
    # server, with NeoSafe's own credentials there (never the clinician's SMART token). None: the unit's write_back.
    write_back_source: str | None = None


@dataclass(frozen=True)
class Endpoints:
    """What the EPR's .well-known/smart-configuration says, checked."""

    authorize: str
    token: str
    jwks: str
    issuer: str | None


def _web_url(value: object) -> bool:
    """An https URL (http only on loopback, for tests)."""
    if not isinstance(value, str):
        return False
    url = urlsplit(value)
    return bool(url.hostname) and (url.scheme == "https" or (url.scheme == "http" and _loopback(url.hostname or "")))


def _iss(value: str) -> str:
    return value.rstrip("/")


KEYS = {"name", "iss", "client_id"}
OPTIONAL = {"client_secret_env", "scopes", "write_back_source"}


def load_launch_clients(path: Path, environ: Mapping[str, str] = os.environ) -> dict[str, LaunchClient]:
    """The allow-list, by `iss`; ConfigError naming each problem. A client secret is never in the file: the entry
    names the environment variable holding it, which must then be set."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the SMART launch file {path}: {exc}") from exc
    clients: dict[str, LaunchClient] = {}
    for n, table in enumerate(data.get("eprs", []), 1):
        where = f"{path.name}: [[eprs]] number {n}"
        if not isinstance(table, dict) or not set(table) >= KEYS or set(table) - KEYS - OPTIONAL:
            raise ConfigError(
                f"{where} must have name, iss and client_id, and may have client_secret_env, scopes and "
                "write_back_source"
            )
        if not all(isinstance(v, str) and v.strip() for v in table.values()):
            raise ConfigError(f"{where}: every value must be a non-empty string")
        if not _web_url(table["iss"]):
            raise ConfigError(f"{where}: iss must be an https URL")
        scopes = table.get("scopes", DEFAULT_SCOPES)
        if missing := [s for s in REQUIRED_SCOPES if s not in scopes.split()]:
            raise ConfigError(f"{where}: scopes must include {', '.join(missing)}")
        secret = None
        if env := table.get("client_secret_env"):
            secret = environ.get(env)
            if not secret:
                raise ConfigError(f"{where}: client_secret_env names {env}, which is not set")
        iss = _iss(table["iss"])
        if iss in clients:
            raise ConfigError(f"{where}: iss {iss} is listed twice")
        clients[iss] = LaunchClient(
            table["name"], iss, table["client_id"], secret, scopes, table.get("write_back_source")
        )
    return clients


def check_write_back_sources(clients: dict[str, LaunchClient], sources: list[SourceSettings]) -> None:
    """Each EPR's `write_back_source` is a configured FHIR source (not a read-only national API) whose base is that
    EPR's `iss`: ConfigError naming both otherwise, at start, never at a clinician's first checklist."""
    by_name = {s.name: s for s in sources}
    for client in clients.values():
        if client.write_back_source is None:
            continue
        source = by_name.get(client.write_back_source)
        where = f"SMART launch EPR {client.name!r}: write_back_source {client.write_back_source!r}"
        if source is None:
            raise ConfigError(f"{where} is not a source in the sources file ({', '.join(by_name)})")
        if source.profile != "fhir":
            raise ConfigError(f"{where} is a {source.profile} source, read-only: it cannot be written to")
        if source.url != client.iss:
            raise ConfigError(f"{where} has base_url {source.url}, not the EPR's iss {client.iss}")


async def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise EprUnreachable(f"the EPR answered {response.status_code} for {what}")
    if len(response.content) > MOST_BYTES:
        raise EprUnreachable(f"the EPR's {what} is too large to be what SMART specifies")
    try:
        body = response.json()
    except ValueError as exc:
        raise EprUnreachable(f"the EPR's {what} is not JSON") from exc
    if not isinstance(body, dict):
        raise EprUnreachable(f"the EPR's {what} is not a JSON object")
    return body


async def _read_from_epr(
    client: LaunchClient, resource_type: str, resource_id: str, access_token: str
) -> dict[str, Any]:
    """`<iss>/<type>/<id>` read with the launch's access token, which goes to the EPR's own FHIR server only (no
    redirects followed); EprUnreachable, or httpx.HTTPError, if it cannot be read as a JSON object."""
    async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
        response = await http.get(
            f"{client.iss}/{resource_type}/{resource_id}",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/fhir+json"},
        )
    return await _json(response, resource_type)


class Launches:
    """The EHR launch use cases over the Checkpoints service."""

    def __init__(self, checkpoints: Checkpoints, clients: dict[str, LaunchClient]) -> None:
        self.checkpoints = checkpoints
        self.clients = clients

    @classmethod
    def wire(cls, checkpoints: Checkpoints) -> Launches:
        clients = load_launch_clients(checkpoints.settings.smart_launch_file)
        check_write_back_sources(clients, checkpoints.sources)
        return cls(checkpoints, clients)

    async def _refuse(self, user: User | None, reason: str, *, action: str = "smart-launch") -> None:
        who = user or User("smart-launch:unknown", "unknown", _NOBODY)
        await self.checkpoints.audit(who, action, None, outcome="refused", detail=reason)

    async def _encounter_refused(self, user: User, client: LaunchClient, reason: str) -> None:
        """The token's encounter is not kept (the launch itself goes on): audited as such."""
        await self._refuse(user, f"from {client.name}: {reason}"[:300], action="smart-launch-encounter")

    async def epr(self, iss: str | None, launch: str | None) -> LaunchClient:
        """The allowed EPR that `iss` names, launching with a context; LaunchRefused (audited) for anything else."""
        client = self.clients.get(_iss(iss)) if iss else None
        if client is None:
            await self._refuse(None, "iss is not an EPR on the SMART launch allow-list")
            raise LaunchRefused(
                "NeoSafe is not registered with the system that launched it, so it cannot open from there. "
                "Sign in to NeoSafe directly, and ask the NeoSafe administrator to register your EPR"
            )
        if not launch or len(launch) > MOST_LAUNCH_CHARS:
            await self._refuse(None, f"from {client.name}: no launch context")
            raise LaunchRefused("The EPR sent no launch context. Open NeoSafe again from the baby's record in the EPR")
        return client

    async def discover(self, client: LaunchClient) -> Endpoints:
        """The EPR's authorization and token endpoints and its JWK Set, from its SMART configuration; EprUnreachable
        (audited) if it cannot be read or is not what SMART specifies."""
        try:
            return await self._discovered(client)
        except EprUnreachable as exc:
            await self._refuse(None, f"from {client.name}: {exc}")
            raise

    async def _discovered(self, client: LaunchClient) -> Endpoints:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as http:
                config = await _json(
                    await http.get(
                        f"{client.iss}/.well-known/smart-configuration", headers={"Accept": "application/json"}
                    ),
                    "SMART configuration",
                )
        except httpx.HTTPError as exc:
            raise EprUnreachable("the EPR's SMART configuration could not be read") from exc
        urls = {k: config.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")}
        if bad := [k for k, v in urls.items() if not _web_url(v)]:
            raise EprUnreachable(f"the EPR's SMART configuration has no https {', '.join(bad)}")
        if "S256" not in (config.get("code_challenge_methods_supported") or []):
            raise EprUnreachable("the EPR's SMART configuration does not offer PKCE with S256")
        issuer = config.get("issuer")
        return Endpoints(
            urls["authorization_endpoint"],
            urls["token_endpoint"],
            urls["jwks_uri"],
            issuer if _web_url(issuer) else None,
        )

    async def refused_user(self, client: LaunchClient, user_id: str, reason: str) -> None:
        """The EPR vouched for a clinician NeoSafe gives no role: refused, audited."""
        await self._refuse(User(user_id, user_id, _NOBODY), f"from {client.name}: {reason}")

    async def baby(self, user: User, client: LaunchClient, patient_id: object, access_token: str) -> str:
        """The NHS number of the baby the launch is about: the Patient `patient_id` names on the EPR's FHIR server,
        read with the launch's access token. LaunchRefused (audited) if there is none NeoSafe can trust."""
        if not isinstance(patient_id, str) or not FHIR_ID.fullmatch(patient_id):
            await self._refuse(user, f"from {client.name}: the token names no patient")
            raise LaunchRefused(
                "The EPR did not say which baby to open. Open NeoSafe from the baby's record in the EPR"
            )
        try:
            patient = await _read_from_epr(client, "Patient", patient_id, access_token)
        except httpx.HTTPError as exc:
            await self._refuse(user, f"from {client.name}: the EPR's FHIR server could not be reached")
            raise EprUnreachable("the EPR's FHIR server could not be reached to read the baby's record") from exc
        except EprUnreachable as exc:
            await self._refuse(user, f"from {client.name}: {exc}")
            raise
        try:
            number = baby_number(patient)
        except PrefetchMissing:
            number = None
        if number is None:
            await self._refuse(user, f"from {client.name}: the EPR's Patient has no valid NHS number")
            raise LaunchRefused(
                "The EPR's record of this baby has no valid NHS number, and NeoSafe finds a baby only by NHS "
                "number. Record the NHS number in the EPR, or open NeoSafe and search when it is known"
            )
        return number

    async def encounter(
        self, user: User, client: LaunchClient, patient_id: str, encounter: object, access_token: str
    ) -> str | None:
        """The id of the stay the launch is in: the token's `encounter` (a FHIR id, or `Encounter/<id>`), kept only
        if the EPR's FHIR server, read with the launch's access token, holds it with the launched Patient as its
        subject. Anything else is not kept, and the audit trail says why: the launch still opens the baby."""
        if encounter is None:
            return None
        given = encounter.removeprefix("Encounter/") if isinstance(encounter, str) else ""
        if not FHIR_ID.fullmatch(given):
            await self._encounter_refused(user, client, "encounter not kept: not a FHIR id")
            return None
        try:
            found = await _read_from_epr(client, "Encounter", given, access_token)
        except (httpx.HTTPError, EprUnreachable) as exc:
            why = str(exc) if isinstance(exc, EprUnreachable) else "the EPR's FHIR server could not be reached"
            await self._encounter_refused(user, client, f"encounter {given} not kept: {why}")
            return None
        subject = (found.get("subject") or {}).get("reference") if isinstance(found.get("subject"), dict) else None
        ours = (f"Patient/{patient_id}", f"{client.iss}/Patient/{patient_id}")
        if found.get("resourceType") != "Encounter" or found.get("id") != given or subject not in ours:
            await self._encounter_refused(user, client, f"encounter {given} not kept: not the launched patient's stay")
            return None
        return given

    async def opened(self, user: User, client: LaunchClient, number: str, encounter: str | None) -> None:
        """The launch opened the baby (audited), in the stay `encounter` if one was kept."""
        detail = f"from {client.name}" + (f"; encounter {encounter}" if encounter else "; no encounter kept")
        await self.checkpoints.audit(user, "smart-launch", number, detail=detail[:300])
