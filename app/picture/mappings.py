"""Load the code lists and reading rules in fhir_mappings/ (data a clinical-safety lead reviews)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from app.config import ConfigError

__all__ = [
    "CODE_PARAMETERS",
    "AccessRules",
    "Category",
    "CpisRules",
    "FlagsRules",
    "Mappings",
    "RecordType",
    "Role",
    "load_mappings",
]

# The FHIR R4 search parameter over each code element record-types.toml reads (`codes`), by resource type. A type
# whose every code element has one is asked for by the code lists alone; any other (Flag: no code parameter, and
# shown whatever its code; Communication: none over reasonCode or topic) is fetched whole, as it always was.
CODE_PARAMETERS = {
    ("Condition", "code"): "code",
    ("Observation", "code"): "code",
    ("Observation", "value.ofType(CodeableConcept)"): "value-concept",
    ("EpisodeOfCare", "type"): "type",
    ("CarePlan", "category"): "category",
    ("ServiceRequest", "code"): "code",
}


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    risk: bool
    codes: frozenset[tuple[str, str]]
    displays: dict[tuple[str, str], str] = field(hash=False, compare=False)
    about: dict[tuple[str, str], str] = field(default_factory=dict, hash=False, compare=False)  # code -> role


@dataclass(frozen=True)
class RecordType:
    resource_type: str
    search: str
    codes: tuple[str, ...]
    status: str
    void: str
    current: str | None = None
    current_within_months: int | None = None
    start: str | None = None
    end: str | None = None
    recorded: str | None = None
    organisation: str | None = None
    contact: str | None = None
    uncategorised: bool = False
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Role:
    key: str
    label: str
    male_carer: bool
    of_baby: frozenset[tuple[str, str]]
    of_parent: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class CpisRules:
    """How a CP-IS CareTeam is read (cpis.toml): the record, and the local authority's two contacts (FHIRPath)."""

    care_team: RecordType
    office_hours: str
    out_of_hours: str
    access: AccessRules | None = None  # [access_history]: None, the access history is not asked for


@dataclass(frozen=True)
class AccessRules:
    """How a CP-IS AuditEvent (an access) is read (cpis.toml [access_history], FHIRPath): its date on the
    AuditEvent, the references to the viewer's PractitionerRole, and on that the viewer, role and organisation."""

    recorded: str
    practitioner_role: str
    viewer: str
    role: str
    organisation: str


@dataclass(frozen=True)
class FlagsRules:
    """How the Patient Flags API is asked and read (patient-flags.toml): the `code=` values sent (none: every flag)
    and the record rule for each Flag."""

    flag: RecordType
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mappings:
    categories: tuple[Category, ...]
    record_types: tuple[RecordType, ...]
    roles: tuple[Role, ...]
    source_labels: dict[str, str] = field(hash=False, compare=False)
    gestation_codes: frozenset[tuple[str, str]] = frozenset()  # an Observation of gestation at birth
    cpis: CpisRules | None = None  # cpis.toml: None where the mappings folder has none (then CP-IS reads unavailable)
    flags: FlagsRules | None = None  # patient-flags.toml: likewise (then the Patient Flags API reads unavailable)
    optional_sources: frozenset[str] = frozenset()  # kinds with expected = false: not shown when not connected
    # code_filters' answers, each worked out once: the same for every picture (the mappings do not change)
    _filters: dict[RecordType, tuple[tuple[str, tuple[str, ...]], ...] | None] = field(
        default_factory=dict, init=False, hash=False, compare=False, repr=False
    )

    @property
    def expected_sources(self) -> tuple[str, ...]:
        """The source kinds every unit should have; a missing one is shown as not checked."""
        return tuple(name for name in self.source_labels if name not in self.optional_sources)

    def category_of(self, codings: list[tuple[str, str]]) -> tuple[Category, tuple[str, str]] | None:
        """The first category (in file order) that any of the codings belongs to, with the coding that matched."""
        for category in self.categories:
            for coding in codings:
                if coding in category.codes:
                    return category, coding
        return None

    def role_of(self, codings: list[tuple[str, str]], *, of_parent: bool) -> Role | None:
        for role in self.roles:
            allowed = role.of_parent if of_parent else role.of_baby
            if any(coding in allowed for coding in codings):
                return role
        return None

    def code_filters(self, rule: RecordType) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
        """(search parameter, `system|code` tokens) pairs whose searches together find every resource of this type
        NeoSafe could read as a record (or, for an Observation, as gestation at birth): a resource matches a
        category when any coding under any of its code elements does, so one search per element, their results
        joined. None where the type must be fetched whole (CODE_PARAMETERS). Worked out once per rule."""
        if rule not in self._filters:
            self._filters[rule] = self._code_filters(rule)
        return self._filters[rule]

    def _code_filters(self, rule: RecordType) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
        if rule.uncategorised:
            return None
        parameters = [CODE_PARAMETERS.get((rule.resource_type, path)) for path in rule.codes]
        if not parameters or None in parameters:
            return None
        codes = {coding for category in self.categories for coding in category.codes}
        gestation = self.gestation_codes if rule.resource_type == "Observation" else frozenset()
        return tuple(
            (parameter, tuple(sorted(_token(s, c) for s, c in (codes | gestation if parameter == "code" else codes))))
            for parameter in dict.fromkeys(p for p in parameters if p)
        )

    def category_rank(self, key: str) -> int:
        keys = [c.key for c in self.categories]
        return keys.index(key) if key in keys else len(keys)


def _token(system: str, code: str) -> str:
    """A token search value, `system|code`, with FHIR's escapes for the characters a search value reserves."""

    def escaped(text: str) -> str:
        return text.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")

    return f"{escaped(system)}|{escaped(code)}"


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"mapping file {path}: {exc}") from exc


def _codings(entries: list[dict]) -> frozenset[tuple[str, str]]:
    return frozenset((e["system"], e["code"]) for e in entries)


def _record_type(name: str, table: dict) -> RecordType:
    return RecordType(resource_type=name, **{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})


def _cpis_rules(path: Path) -> CpisRules | None:
    if not path.exists():
        return None
    table = _read(path)
    try:
        return CpisRules(
            care_team=_record_type("CareTeam", table["care_team"]),
            office_hours=table["contacts"]["office_hours"],
            out_of_hours=table["contacts"]["out_of_hours"],
            access=AccessRules(**table["access_history"]) if "access_history" in table else None,
        )
    except (KeyError, TypeError) as exc:  # TypeError: a key missing from, or not known in, [access_history]
        needs = (
            "[care_team], and [contacts] with office_hours and out_of_hours (and [access_history], if given, with "
            "recorded, practitioner_role, viewer, role and organisation)"
        )
        raise ConfigError(f"mapping file {path} needs {needs}") from exc


def _flags_rules(path: Path) -> FlagsRules | None:
    if not path.exists():
        return None
    table = _read(path)
    try:
        codes = table.get("search", {}).get("codes", [])
        if not isinstance(codes, list) or not all(isinstance(c, str) and c.strip() for c in codes):
            raise TypeError("codes")
        return FlagsRules(flag=_record_type("Flag", table["flag"]), codes=tuple(codes))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"mapping file {path} needs [flag], and [search] codes as a list of system|code") from exc


def load_mappings(directory: Path) -> Mappings:
    """Read categories.toml, record-types.toml (with its [gestation] codes) and relationships.toml from `directory`."""
    categories = tuple(
        Category(
            key=key,
            label=table["label"],
            risk=table.get("risk", True),
            codes=_codings(table["codes"]),
            displays={(e["system"], e["code"]): e["display"] for e in table["codes"]},
            about={(e["system"], e["code"]): e["about"] for e in table["codes"] if "about" in e},
        )
        for key, table in _read(directory / "categories.toml")["categories"].items()
    )
    reading = _read(directory / "record-types.toml")
    record_types = tuple(_record_type(name, table) for name, table in reading["types"].items())
    roles = tuple(
        Role(
            key=key,
            label=table["label"],
            male_carer=table.get("male_carer", False),
            of_baby=_codings(table.get("of_baby", [])),
            of_parent=_codings(table.get("of_parent", [])),
        )
        for key, table in _read(directory / "relationships.toml")["roles"].items()
    )
    sources = _read(directory / "sources.toml")["sources"]
    return Mappings(
        cpis=_cpis_rules(directory / "cpis.toml"),
        flags=_flags_rules(directory / "patient-flags.toml"),
        optional_sources=frozenset(name for name, table in sources.items() if table.get("expected", True) is False),
        categories=categories,
        record_types=record_types,
        roles=roles,
        source_labels={name: table["label"] for name, table in sources.items()},
        gestation_codes=_codings(reading.get("gestation", {}).get("codes", [])),
    )
