"""How prominent a record is in the safeguarding summary: fhir_mappings/severity.toml, read and checked at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from app.config import ConfigError, read_toml
from app.picture.models import Record

__all__ = ["Severity", "load_severity"]


@dataclass(frozen=True)
class Severity:
    """fhir_mappings/severity.toml, read."""

    recent_months: int
    tiers: tuple[tuple[str, str], ...]  # (key, label), most prominent first
    categories: dict[str, dict[str, str]]  # category -> {"current"|"recent"|"older": tier}
    needs: frozenset[str]
    administrative: frozenset[tuple[str, str]]  # (system, code)

    def tier_of(self, record: Record, today: date) -> str:
        rule = self.categories.get(record.category, {})
        if record.current:
            when = "current"
        else:
            ended = (record.end or record.sort_date)[:10]
            when = "recent" if ended and ended >= _months_before(today, self.recent_months) else "older"
        return rule.get(when, "concern")


def _months_before(today: date, months: int) -> str:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, min(today.day, 28)).isoformat()


def load_severity(directory: Path) -> Severity:
    """Read severity.toml from the mappings folder when the service is wired, so a broken file stops the start;
    a tier a category names must be one of its tiers."""
    table = read_toml(directory / "severity.toml")
    try:
        tiers = tuple((t["key"], t["label"]) for t in table["tiers"])
        categories = {key: dict(rule) for key, rule in table.get("categories", {}).items()}
        severity = Severity(
            recent_months=int(table["recent_months"]),
            tiers=tiers,
            categories=categories,
            needs=frozenset(table.get("needs", {}).get("categories", [])),
            administrative=frozenset(
                (c["system"], c["code"]) for c in table.get("administrative", {}).get("codes", [])
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"severity.toml: {exc!r} is missing or not as the file's comments describe") from exc
    known = {key for key, _ in tiers}
    for key, rule in categories.items():
        if unknown := set(rule.values()) - known:
            raise ConfigError(f"severity.toml: {key} names a tier it does not define: {sorted(unknown)}")
    return severity
