"""NeoSafe settings: read from the environment (or a mapping) at the edge, passed inward as values.

FHIR sources live in a TOML file, one table per source:

    [sources.maternity]
    base_url = "https://maternity.example.nhs.uk/fhir"
    timeout_s = 10
    auth = { type = "bearer", token_env = "MATERNITY_TOKEN" }

    [sources.neonatal]
    base_url = "https://epr.example.nhs.uk/fhir"
    write_back = true

A source's table name is its kind, one the data contract knows (the tables of fhir_mappings/sources.toml).

A source's `profile` says how it is asked: `fhir` (the default: NeoSafe's generic FHIR searches) or `cpis` (NHS
England's CP-IS API in its own shape: CareTeam by NHS number, with the signed-in clinician's NHS CIS2 token and the
TraceID and IsUnscheduledAccessEvent headers) or `patient-flags` (NHS England's Patient Flags API: Flag by bare NHS
number, with the clinician's NHS CIS2 token and an X-Request-ID; the FGM-IS, reasonable-adjustment and CP-IS flags):

    [sources.cpis]
    profile = "cpis"
    base_url = "https://api.service.nhs.uk/cpis/FHIR/R4"
    unscheduled_access = { admission = true, transfer = true, discharge = false }
    unscheduled_default = true  # a checkpoint not listed, or a picture outside one; CP-IS treats "omitted" as true

    [sources.patient-flags]
    profile = "patient-flags"
    base_url = "https://flags.example.nhs.uk/FHIR/R4"  # the address NHS England gives the unit

or `pds` (NHS England's Personal Demographics Service: each household member's NHS number verified before the record
sources are asked about them, with the signed-in clinician's NHS CIS2 token and the X-Request-ID header):

    [sources.pds]
    profile = "pds"
    base_url = "https://api.service.nhs.uk/personal-demographics/FHIR/R4"
    end_user_ods = "RXX01"  # sent as NHSD-End-User-Organisation-ODS; not sent if not set
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DATA_ROOT",
    "PROFILES",
    "PROJECT_ROOT",
    "ConfigError",
    "RuntimeSettings",
    "Settings",
    "SourceAuth",
    "SourceSettings",
    "load_sources",
    "read_toml",
]

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
PROFILES = ("fhir", "cpis", "patient-flags", "pds")  # how a source is asked: generic FHIR searches, or a national
# API's own. The national APIs asked with the signed-in clinician's NHS CIS2 token (user-restricted), never
# application credentials:
USER_RESTRICTED = ("cpis", "patient-flags", "pds")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# checklists/, fhir_mappings/, templates/ and migrations/: beside app/ in a checkout and the image, inside it in a
# wheel (pyproject.toml's force-include).
_PACKAGED = Path(__file__).resolve().parent / "_data"
DATA_ROOT = _PACKAGED if _PACKAGED.is_dir() else PROJECT_ROOT


class ConfigError(ValueError):
    """A configuration file or setting is missing or wrong; the message names what and where."""


def read_toml(path: Path) -> dict:
    """A mapping file, read; ConfigError naming it if it is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


class SourceAuth(BaseModel):
    """How NeoSafe authenticates to one source. Secrets stay out of the file: a token in the environment,
    a private key in a file of its own.

    - `none`
    - `bearer`: a static token read from the environment variable `token_env`
    - `smart-backend`: SMART Backend Services (client credentials with a signed JWT assertion): `client_id`,
      `private_key_file` (PEM), `key_id`, optional `token_url` (else read from the server's
      .well-known/smart-configuration), `scope`, `algorithm` (RS384 or ES384)
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "bearer", "smart-backend"] = "none"
    token_env: str | None = None
    client_id: str | None = None
    private_key_file: Path | None = None
    key_id: str | None = None
    token_url: HttpUrl | None = None
    scope: str = "system/*.read"
    algorithm: Literal["RS384", "ES384"] = "RS384"

    @model_validator(mode="after")
    def _complete(self) -> SourceAuth:
        if self.type == "bearer" and not self.token_env:
            raise ValueError("auth type 'bearer' needs token_env, the environment variable holding the token")
        if self.type == "smart-backend":
            missing = [k for k in ("client_id", "private_key_file", "key_id") if not getattr(self, k)]
            if missing:
                raise ValueError(f"auth type 'smart-backend' needs {', '.join(missing)}")
            if not self.private_key_file.is_file():
                raise ValueError(f"private_key_file {self.private_key_file} does not exist")
        return self

    def token(self) -> str | None:
        if self.type != "bearer" or self.token_env is None:
            return None
        value = os.environ.get(self.token_env)
        if not value:
            raise ConfigError(f"environment variable {self.token_env} (bearer token) is not set")
        return value


class SourceSettings(BaseModel):
    """One FHIR R4 server that NeoSafe reads from (and, for one of them, writes to)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    base_url: HttpUrl
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    auth: SourceAuth = Field(default_factory=SourceAuth)
    write_back: bool = False
    profile: Literal["fhir", "cpis", "patient-flags", "pds"] = "fhir"
    # cpis only: the IsUnscheduledAccessEvent sent at each checkpoint (true: CP-IS records the access in the child's
    # access history and notifies the local authority), and for a checkpoint not listed or a picture outside one.
    unscheduled_access: dict[str, bool] = Field(default_factory=dict)
    unscheduled_default: bool = True
    # pds only: the unit's ODS code, sent as NHSD-End-User-Organisation-ODS (None: the header is not sent)
    end_user_ods: str | None = Field(default=None, pattern=r"^[A-Z0-9]{3,10}$")

    @model_validator(mode="after")
    def _profile_fits(self) -> SourceSettings:
        if self.profile in USER_RESTRICTED:
            if self.auth.type != "none":
                raise ValueError(
                    f"a {self.profile} source is user-restricted: it is called with the signed-in clinician's NHS "
                    "CIS2 token, never application credentials, so it takes no auth table"
                )
            if self.write_back:
                raise ValueError(f"a {self.profile} source is read-only: it cannot be the write_back source")
            if self.base_url.scheme != "https" and self.base_url.host not in LOOPBACK:
                raise ValueError(
                    f"a {self.profile} source is sent the clinician's NHS CIS2 token: its base_url must be https "
                    "(plain http only to this machine, e.g. the sandbox)"
                )
        if self.profile != "cpis" and self.unscheduled_access:
            raise ValueError('unscheduled_access is for a cpis source (profile = "cpis") only')
        if self.profile != "pds" and self.end_user_ods is not None:
            raise ValueError('end_user_ods is for a pds source (profile = "pds") only')
        return self

    @property
    def user_restricted(self) -> bool:
        """Asked only with the signed-in clinician's own NHS CIS2 token: what it answers is for that clinician."""
        return self.profile in USER_RESTRICTED

    def unscheduled(self, checkpoint: str | None) -> bool:
        """The IsUnscheduledAccessEvent value for a picture gathered at `checkpoint` (None: outside one)."""
        return self.unscheduled_access.get(checkpoint or "", self.unscheduled_default)

    @property
    def url(self) -> str:
        return str(self.base_url).rstrip("/")


def source_kinds(mappings_dir: Path) -> tuple[str, ...]:
    """The kinds of source the data contract knows: the tables of `sources.toml` in the mappings folder."""
    path = mappings_dir / "sources.toml"
    try:
        return tuple(tomllib.loads(path.read_text(encoding="utf-8"))["sources"])
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"mapping file {path} does not list the source kinds ([sources.<kind>]): {exc}") from exc


def load_sources(path: Path, *, mappings_dir: Path | None = None) -> list[SourceSettings]:
    """Read and validate a sources file: each table named by a kind of source the data contract knows (the
    mappings folder's sources.toml; by default Settings'), and exactly one source with write_back = true."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"sources file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sources file {path} is not valid TOML: {exc}") from exc
    tables = data.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"sources file {path} has no [sources.<name>] tables")
    mappings_dir = mappings_dir or Settings.model_fields["mappings_dir"].default
    kinds = source_kinds(mappings_dir)
    sources = []
    for name, table in tables.items():
        if name not in kinds:
            raise ConfigError(
                f"sources file {path}: [sources.{name}] is not a kind of source NeoSafe knows; "
                f"the known kinds are {', '.join(kinds)} (from {mappings_dir / 'sources.toml'})"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"sources file {path}: sources.{name} must be a table")
        profile = table.get("profile", "fhir")
        if profile not in PROFILES:
            raise ConfigError(
                f"sources file {path}: source '{name}': profile {profile!r} is not one NeoSafe knows; "
                f"the known profiles are {', '.join(PROFILES)} (fhir: generic FHIR searches, the default; "
                "cpis: NHS England's CP-IS API; patient-flags: NHS England's Patient Flags API; "
                "pds: NHS England's Personal Demographics Service)"
            )
        try:
            sources.append(SourceSettings(name=name, **table))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"sources file {path}: source '{name}': {problems}") from exc
    for profile in USER_RESTRICTED:  # NeoSafe asks one of each national service: a second would be left unasked
        named = [s.name for s in sources if s.profile == profile]
        if len(named) > 1:
            many = f"profile {profile!r} is on {len(named)} sources ({named}); one only"
            raise ConfigError(f"sources file {path}: {many}")
    writers = [s.name for s in sources if s.write_back]
    if len(writers) != 1:
        raise ConfigError(
            f"sources file {path}: exactly one source needs write_back = true (found {len(writers)}: {writers})"
        )
    return sources


ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


class RuntimeSettings(BaseSettings):
    """What every `neosafe` command needs, `neosafe db upgrade` included: no secret, no sources."""

    # Inputs stay out of error messages: a bad DATABASE_URL may carry a password, a short key is still a key.
    model_config = SettingsConfigDict(
        env_prefix="NEOSAFE_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    database_url: str = Field(default="sqlite+aiosqlite:///neosafe.db", validation_alias="DATABASE_URL")
    migrate_on_start: bool = False
    log_format: Literal["auto", "json", "text"] = "auto"  # auto: text on a terminal, else JSON

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep:
            raise ValueError("DATABASE_URL must look like postgresql+asyncpg://user:password@host:5432/neosafe")
        scheme = ASYNC_DRIVERS.get(scheme, scheme)
        if scheme not in ASYNC_DRIVERS.values():
            raise ValueError("DATABASE_URL must use postgresql+asyncpg:// (or sqlite+aiosqlite:/// to try NeoSafe)")
        return f"{scheme}://{rest}"


class Settings(RuntimeSettings):
    """Service settings; every one is documented in README.md under Configuration."""

    sources_file: Path | None = Field(default=None, validation_alias="NEOSAFE_SOURCES")
    secret_key: str = ""
    demo_users: bool = False
    checklists_dir: Path = DATA_ROOT / "checklists"
    mappings_dir: Path = DATA_ROOT / "fhir_mappings"
    templates_dir: Path = DATA_ROOT / "templates"
    session_hours: float = Field(default=12.0, gt=0)  # the longest a sign-in lasts, however busy
    session_idle_minutes: float = Field(default=30.0, gt=0)  # signed out after this long unused (shared computers)
    outbox_worker: bool = True  # send queued assessments from this process (a dedicated worker may do it)
    outbox_interval_s: float = Field(default=5.0, gt=0)
    outbox_retry_base_s: float = Field(default=15.0, gt=0)  # first wait after a failed send; doubles each time
    outbox_retry_max_s: float = Field(default=1800.0, gt=0)  # the longest wait between two tries
    outbox_lease_s: float = Field(default=120.0, gt=0)  # a claimed entry is left alone this long; > slowest send
    # Watching the stay: the pictures of every baby on the unit gathered again this often, by one instance at a time.
    watch: bool = True  # run the watch job in this process (`neosafe watch` may run it on its own instead)
    watch_interval_s: float = Field(default=900.0, ge=10)
    watch_concurrency: int = Field(default=4, ge=1, le=32)  # pictures gathered at once: requests per source at once
    max_body_bytes: int = Field(default=1_000_000, gt=0)  # the largest request body read; a checklist is ~100 kB
    source_max_bytes: int = Field(default=8_000_000, gt=0)  # the largest answer read from a source, per page
    # Who may show NeoSafe in a frame (CSP frame-ancestors): none, unless the trust's EPR embeds it, e.g.
    # "https://epr.example.nhs.uk".
    frame_ancestors: str = "'none'"
    audit_export: bool = False  # the outbox worker also sends the audit trail to the write-back source
    # Single sign-on (OpenID Connect, e.g. NHS CIS2). Unset issuer: no single sign-on.
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scope: str = "openid profile nationalrbacaccess selectedrole"
    oidc_roles: dict[str, str] = {}  # a CIS2 role-code part or activity code -> a NeoSafe role (JSON in the env)
    # MESH delivery (issue 16): the handover sent from the unit's mailbox to each recipient's (delivery.toml). No URL,
    # no delivery by MESH (recipients routed to a mailbox wait, shown as not sent). The password and shared key are
    # sent to the MESH URL only (in its authorisation token), never logged; the client certificate and key are the
    # unit's MESH certificate (mutual TLS), checked against mesh_ca_file.
    mesh_url: str | None = None
    mesh_mailbox: str = ""
    mesh_password: str = Field(default="", repr=False)
    mesh_shared_key: str = Field(default="", repr=False)
    mesh_ca_file: Path | None = None
    mesh_cert_file: Path | None = None
    mesh_key_file: Path | None = None
    delivery_worker: bool = True  # deliver handovers from this process
    delivery_interval_s: float = Field(default=10.0, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1)  # tries before a delivery is reported failed (and a Task)
    delivery_acknowledge_within_h: float = Field(default=48.0, gt=0)  # sent, not acknowledged by then: a Task
    # CDS Hooks (issue 17)
    # NeoSafe's URL as the EPR reaches it, e.g. https://neosafe.example.nhs.uk: what the EPR's hook JWTs must be
    # addressed to (aud: /cds-services/<id> under it), and where the cards' links open. Unset: every hook call refused.
    public_url: str | None = None
    # The EPRs allowed to call the CDS services, each issuer with its JWK Set URL (reviewed, like the mappings).
    cds_clients_file: Path = DATA_ROOT / "fhir_mappings" / "cds-clients.toml"
    # SMART App Launch (issue 17): the EPRs that may launch NeoSafe (iss, NeoSafe's client id there, its scopes).
    smart_launch_file: Path = DATA_ROOT / "fhir_mappings" / "smart-launch.toml"

    @field_validator("frame_ancestors")
    @classmethod
    def _one_directive(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in ";,\r\n") or not value.isascii():
            raise ValueError(
                "NEOSAFE_FRAME_ANCESTORS must be CSP frame-ancestors sources separated by spaces, "
                "e.g. 'none' or https://epr.example.nhs.uk"
            )
        return value.strip()

    @field_validator("secret_key")
    @classmethod
    def _real_secret(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError(
                "NEOSAFE_SECRET_KEY must be set to a random string of at least 32 characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return value

    def sources(self) -> list[SourceSettings]:
        if self.sources_file is None:
            raise ConfigError("no sources file: set NEOSAFE_SOURCES or pass --sources FILE")
        return load_sources(self.sources_file, mappings_dir=self.mappings_dir)

    def require_sign_in(self) -> None:
        """`neosafe serve` refuses to start with no way to sign in. (create_app does not: tests build apps that
        need none.)"""
        if not self.demo_users and not self.oidc_issuer:
            raise ConfigError(
                "no sign-in method is configured, so nobody could sign in: set NEOSAFE_OIDC_ISSUER "
                "(single sign-on, e.g. NHS CIS2, with NEOSAFE_OIDC_CLIENT_ID and NEOSAFE_OIDC_ROLES) "
                "or NEOSAFE_DEMO_USERS=true (the demo users, only to try NeoSafe)"
            )
