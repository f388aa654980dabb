"""NeoSafe settings: read from the environment (or a mapping) at the edge, passed inward as values.

FHIR sources live in a TOML file, one table per source:

    [sources.maternity]
    base_url = "https://maternity.example.nhs.uk/fhir"
    timeout_s = 10
    auth = { type = "bearer", token_env = "MATERNITY_TOKEN" }

    [sources.neonatal]
    base_url = "https://epr.example.nhs.uk/fhir"
    write_back = true
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["PROJECT_ROOT", "ConfigError", "Settings", "SourceAuth", "SourceSettings", "load_sources"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration file or setting is missing or wrong; the message names what and where."""


class SourceAuth(BaseModel):
    """How NeoSafe authenticates to one source. Secrets come from the environment, never the file."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "bearer"] = "none"
    token_env: str | None = None

    @model_validator(mode="after")
    def _bearer_needs_token(self) -> SourceAuth:
        if self.type == "bearer" and not self.token_env:
            raise ValueError("auth type 'bearer' needs token_env, the environment variable holding the token")
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

    @property
    def url(self) -> str:
        return str(self.base_url).rstrip("/")


def load_sources(path: Path) -> list[SourceSettings]:
    """Read and validate a sources file; exactly one source must have write_back = true."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"sources file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"sources file {path} is not valid TOML: {exc}") from exc
    tables = data.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"sources file {path} has no [sources.<name>] tables")
    sources = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"sources file {path}: sources.{name} must be a table")
        try:
            sources.append(SourceSettings(name=name, **table))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"sources file {path}: source '{name}': {problems}") from exc
    writers = [s.name for s in sources if s.write_back]
    if len(writers) != 1:
        raise ConfigError(
            f"sources file {path}: exactly one source needs write_back = true (found {len(writers)}: {writers})"
        )
    return sources


class Settings(BaseSettings):
    """Service settings; every one is documented in README.md under Configuration."""

    model_config = SettingsConfigDict(env_prefix="NEOSAFE_", extra="ignore", populate_by_name=True)

    sources_file: Path | None = Field(default=None, validation_alias="NEOSAFE_SOURCES")
    database_url: str = Field(default="sqlite+aiosqlite:///neosafe.db", validation_alias="DATABASE_URL")
    secret_key: str = ""
    demo_users: bool = False
    checklists_dir: Path = PROJECT_ROOT / "checklists"
    mappings_dir: Path = PROJECT_ROOT / "fhir_mappings"
    templates_dir: Path = PROJECT_ROOT / "templates"
    session_hours: float = 12.0

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
        return load_sources(self.sources_file)
