"""Who receives the discharge handover, and by which channel: fhir_mappings/delivery.toml, checked when wired.

The baby's GP practice comes from Patient.generalPractitioner (its ODS code), the health visiting and community
neonatal teams from the discharge address (postcode area or local authority): the address the discharge checklist
gives (D5), else, only when the checklist gives none, the baby's current home address on the record. No route is
never a guess: the recipient is "not reachable: send by another means", and a Task says so.

The same rules pre-fill the discharge checklist's recipients (D10, `recipient_entries`), so the nurse sees before
signing whom NeoSafe will send the handover to, and which recipients it cannot reach.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.config import ConfigError, read_toml

__all__ = [
    "NOT_REACHABLE",
    "ODS_SYSTEM",
    "NotReachable",
    "Route",
    "Routes",
    "Unit",
    "home_address",
    "load_routes",
    "recipient_entries",
    "route_words",
]

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
TEAM_KINDS = ("health-visitor", "community-neonatal-team")
_MAILBOX = re.compile(r"^[A-Z0-9]{5,20}$")
# A UK postcode (outward code, then inward code): its area is the letters before the first digit.
_POSTCODE = re.compile(r"\b([A-Z]{1,2})[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b")
NOT_REACHABLE = "Not reachable: send by another means"


@dataclass(frozen=True)
class Route:
    name: str
    ods_code: str
    mailbox: str | None = None  # MESH
    endpoint: str | None = None  # FHIR R4 base URL

    @property
    def channel(self) -> str:
        return "mesh" if self.mailbox else "fhir"

    @property
    def address(self) -> str:
        return self.mailbox or self.endpoint or ""


@dataclass(frozen=True)
class NotReachable:
    description: str
    owner: str
    priority: str


@dataclass(frozen=True)
class Unit:
    """The neonatal unit, the sender: its name and ODS code, as each message names them."""

    name: str
    ods_code: str


@dataclass(frozen=True)
class Routes:
    unit: Unit
    gp: dict[str, Route]  # by ODS code
    teams: list[tuple[str, frozenset[str], frozenset[str], Route]]  # kind, postcode areas, local authorities
    not_reachable: NotReachable

    def team_names(self, kind: str) -> set[str]:
        """The names of the teams of `kind` (health visiting, community neonatal): what D10 is pre-filled with."""
        return {route.name for team_kind, _, _, route in self.teams if team_kind == kind}

    def route_for(self, kind: str, patient: dict[str, Any], *, address: str | None = None) -> Route | None:
        """The route for a recipient of `kind` of this baby (the Patient as JSON), or None.

        `address`: where the baby goes home to, as the discharge checklist says. When given, the teams are found
        from it alone (a baby going home somewhere else is never sent to the old address's team); without it, from
        the current home address on the record."""
        if kind == "gp":
            return next((self.gp[ods] for ods in _gp_ods_codes(patient) if ods in self.gp), None)
        areas, authorities = _text_keys(address) if address and address.strip() else _address_keys(patient)
        for team_kind, postcode_areas, local_authorities, route in self.teams:
            if team_kind == kind and (areas & postcode_areas or authorities & local_authorities):
                return route
        return None


def _gp_ods_codes(patient: dict[str, Any]) -> list[str]:
    return [
        ref["identifier"]["value"].upper()
        for ref in patient.get("generalPractitioner") or []
        if (ref.get("identifier") or {}).get("system") == ODS_SYSTEM and ref["identifier"].get("value")
    ]


def _address_keys(patient: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The postcode areas and local authorities of the baby's current home address(es)."""
    addresses = [
        a
        for a in patient.get("address") or []
        if a.get("use") in (None, "home") and not (a.get("period") or {}).get("end")
    ]  # every current home address: the record's own may hold more than one
    areas = {m.group(0) for a in addresses if (m := re.match(r"[A-Z]{1,2}", (a.get("postalCode") or "").upper()))}
    return areas, {a["district"].strip().casefold() for a in addresses if a.get("district")}


def _text_keys(address: str) -> tuple[set[str], set[str]]:
    """The postcode area and the parts (lines) of an address as a person wrote it: a part that is exactly a local
    authority's name matches it ("..., Riverside, RV3 1AB")."""
    upper = address.upper()
    areas = {m.group(1) for m in _POSTCODE.finditer(upper)}
    return areas, {part.strip().casefold() for part in re.split(r"[,\n]", address) if part.strip()}


def _current_home(patient: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            a
            for a in patient.get("address") or []
            if a.get("use") in (None, "home") and not (a.get("period") or {}).get("end")
        ),
        None,
    )


def home_address(patient: dict[str, Any]) -> str | None:
    """The baby's current home address on the record, as one line ("12 Mill Lane, Riverside, RV3 1AB"), or None."""
    address = _current_home(patient)
    if address is None:
        return None
    parts: list[str] = []
    for part in [*(address.get("line") or []), address.get("city"), address.get("district"), address.get("postalCode")]:
        if isinstance(part, str) and part.strip() and part.strip() not in parts:
            parts.append(part.strip())
    return ", ".join(parts) or address.get("text") or None


def _gp_name(patient: dict[str, Any]) -> str | None:
    return next((ref["display"] for ref in patient.get("generalPractitioner") or [] if ref.get("display")), None)


def recipient_entries(
    routes: Routes | None, patient: dict[str, Any], *, social_workers: list[str]
) -> list[dict[str, Any]]:
    """The discharge checklist's recipients (D10), one entry each: `kind` (the checklist's recipient code), `name`
    (whom NeoSafe found, or None) and `route` (how NeoSafe will send it, or NOT_REACHABLE).

    The GP practice, health visiting team and community neonatal team for the baby's home address on the record, the
    community midwife, and each named social worker (`social_workers`, from current social care records). The
    route is worked out again from the checklist's own address when the handover is sent."""
    entries = []
    for kind in ("health-visitor", "gp", "community-neonatal-team", "community-midwife"):
        route = routes.route_for(kind, patient) if routes is not None else None
        name = route.name if route else (_gp_name(patient) if kind == "gp" else None)
        entries.append({"kind": kind, "name": name, "route": route_words(route)})
    for worker in social_workers:
        entries.append({"kind": "recipient-social-worker", "name": worker, "route": NOT_REACHABLE})
    return entries


def route_words(route: Route | None) -> str:
    if route is None:
        return NOT_REACHABLE
    how = f"MESH mailbox {route.mailbox}" if route.mailbox else "its FHIR endpoint"
    return f"NeoSafe sends it to {route.name} (ODS {route.ods_code}) by {how}"


def _route(path: Path, where: str, table: Any) -> Route:
    if not isinstance(table, dict) or not isinstance(table.get("name"), str) or not table["name"].strip():
        raise ConfigError(f"{path.name}, {where}: needs a name")
    mailbox, endpoint = table.get("mailbox"), table.get("endpoint")
    if (mailbox is None) == (endpoint is None):
        raise ConfigError(f"{path.name}, {where}: needs exactly one of mailbox or endpoint")
    if mailbox is not None and not (isinstance(mailbox, str) and _MAILBOX.match(mailbox)):
        raise ConfigError(f"{path.name}, {where}: mailbox must be a MESH mailbox id (capitals and digits)")
    if endpoint is not None and not (isinstance(endpoint, str) and urlsplit(endpoint).scheme in ("https", "http")):
        raise ConfigError(f"{path.name}, {where}: endpoint must be a FHIR server's base URL")
    ods = table.get("ods_code")
    if not isinstance(ods, str) or not ods.strip():
        raise ConfigError(f"{path.name}, {where}: needs an ods_code")
    return Route(name=table["name"], ods_code=ods.strip().upper(), mailbox=mailbox, endpoint=endpoint)


def load_routes(path: Path) -> Routes:
    """delivery.toml read and checked; a ConfigError naming the file and the entry otherwise."""
    data = read_toml(path)
    gp = {}
    for ods, table in (data.get("gp") or {}).items():
        gp[ods.upper()] = _route(path, f"[gp.{ods}]", {"ods_code": ods, **table} if isinstance(table, dict) else None)
    teams = []
    for n, table in enumerate(data.get("team") or [], start=1):
        where = f"[[team]] {n}"
        if not isinstance(table, dict) or table.get("kind") not in TEAM_KINDS:
            raise ConfigError(f"{path.name}, {where}: kind must be one of {', '.join(TEAM_KINDS)}")
        areas = table.get("postcode_areas") or []
        authorities = table.get("local_authorities") or []
        if not all(isinstance(a, str) and re.fullmatch(r"[A-Z]{1,2}", a) for a in areas) or not all(
            isinstance(a, str) and a.strip() for a in authorities
        ):
            raise ConfigError(f"{path.name}, {where}: postcode_areas are 1 or 2 capitals; local_authorities names")
        if not areas and not authorities:
            raise ConfigError(f"{path.name}, {where}: needs postcode_areas or local_authorities")
        teams.append(
            (
                table["kind"],
                frozenset(areas),
                frozenset(a.strip().casefold() for a in authorities),
                _route(path, where, table),
            )
        )
    unreachable = data.get("not_reachable") or {}
    if not all(isinstance(unreachable.get(k), str) and unreachable[k] for k in ("description", "owner", "priority")):
        raise ConfigError(f"{path.name}, [not_reachable]: needs description, owner and priority")
    if unreachable["priority"] not in ("routine", "urgent", "asap", "stat"):
        raise ConfigError(f"{path.name}, [not_reachable]: priority must be routine, urgent, asap or stat")
    unit = data.get("unit") or {}
    if not all(isinstance(unit.get(k), str) and unit[k].strip() for k in ("name", "ods_code")):
        raise ConfigError(f"{path.name}, [unit]: needs the unit's name and ods_code")
    return Routes(
        unit=Unit(name=unit["name"], ods_code=unit["ods_code"].upper()),
        gp=gp,
        teams=teams,
        not_reachable=NotReachable(**{f.name: unreachable[f.name] for f in fields(NotReachable)}),
    )
