"""Who receives the discharge handover, and by which channel: fhir_mappings/delivery.toml, checked when wired.

The baby's GP practice comes from Patient.generalPractitioner (its ODS code), the health visiting and community
neonatal teams from the discharge address (postcode area or local authority). No route is never a guess: the
recipient is "not reachable: send by another means", and a Task says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.config import ConfigError, read_toml

__all__ = ["ODS_SYSTEM", "Route", "Routes", "load_routes"]

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
TEAM_KINDS = ("health-visitor", "community-neonatal-team")
_MAILBOX = re.compile(r"^[A-Z0-9]{5,20}$")


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

    def route_for(self, kind: str, patient: dict[str, Any]) -> Route | None:
        """The route for a recipient of `kind` of this baby (the Patient as JSON), or None."""
        if kind == "gp":
            return next((self.gp[ods] for ods in _gp_ods_codes(patient) if ods in self.gp), None)
        areas, authorities = _address_keys(patient)
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
    ]
    areas = {m.group(0) for a in addresses if (m := re.match(r"[A-Z]{1,2}", (a.get("postalCode") or "").upper()))}
    return areas, {a["district"].strip().casefold() for a in addresses if a.get("district")}


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
