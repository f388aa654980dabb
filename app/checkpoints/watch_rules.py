"""What the watch job looks for and the task it raises: fhir_mappings/watch.toml, read and checked at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.config import ConfigError, read_toml
from app.picture import Mappings

__all__ = ["PRIORITIES", "WatchRules", "load_watch_rules"]

PRIORITIES = ("routine", "urgent", "asap", "stat")  # FHIR R4 request-priority


@dataclass(frozen=True)
class WatchRules:
    categories: frozenset[str]  # records of these categories, new or reopened, are new information
    description: str
    owner: str
    due_days: int
    priority: str


def load_watch_rules(directory: Path, mappings: Mappings) -> WatchRules:
    """watch.toml from the mappings folder; every category must be one of categories.toml's."""
    table = read_toml(directory / "watch.toml")
    try:
        task = table["task"]
        rules = WatchRules(
            categories=frozenset(table["categories"]),
            description=str(task["description"]),
            owner=str(task["owner"]),
            due_days=int(task["due_days"]),
            priority=str(task["priority"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"watch.toml: {exc!r} is missing or not as the file's comments describe") from exc
    if unknown := rules.categories - {c.key for c in mappings.categories}:
        raise ConfigError(f"watch.toml: categories not in categories.toml: {sorted(unknown)}")
    if rules.priority not in PRIORITIES or rules.due_days < 0:
        raise ConfigError(f"watch.toml: priority must be one of {', '.join(PRIORITIES)}, due_days 0 or more")
    return rules
