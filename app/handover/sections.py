"""The handover summary's layout, read from fhir_mappings/handover.toml and checked against the checklists.

The file is for clinical review: the key facts the community team reads first, and which checklist answers they
receive under which heading. A heading naming a checklist item that does not exist fails at start-up, not in a
handover at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.config import ConfigError, read_toml
from app.forms import Checklists, definitions

__all__ = ["Section", "load_sections"]


@dataclass(frozen=True)
class Section:
    """A heading of the summary. `key`: one of the key facts on its first page, whose items may be any question or
    repeating group of a checklist (e.g. each carer), rather than a top-level item read in full."""

    title: str
    items: tuple[tuple[str, str], ...]  # (checkpoint, linkId), in order
    key: bool = False


def _item(entry: str, checklists: Checklists, where: str, *, any_depth: bool) -> tuple[str, str]:
    checkpoint, _, link_id = entry.partition(":")
    questionnaire = checklists.by_checkpoint.get(checkpoint)
    if questionnaire is None:
        raise ConfigError(f"{where}: '{entry}' names no checklist (use one of {', '.join(checklists.by_checkpoint)})")
    known = definitions(questionnaire) if any_depth else questionnaire.get("item") or []
    if link_id not in {i["linkId"] for i in known}:
        depth = "item" if any_depth else "top-level item"
        raise ConfigError(f"{where}: '{entry}': the {checkpoint} checklist has no {depth} '{link_id}'")
    return checkpoint, link_id


def _read(tables: list[dict], checklists: Checklists, where_in: str, *, key: bool) -> list[Section]:
    sections = []
    for number, table in enumerate(tables, start=1):
        where = f"{where_in} {number}"
        if not table.get("title") or not table.get("items"):
            raise ConfigError(f"{where}: each needs a title and items")
        items = tuple(_item(e, checklists, where, any_depth=key) for e in table["items"])
        sections.append(Section(table["title"], items, key=key))
    return sections


def load_sections(path: Path, checklists: Checklists) -> list[Section]:
    """The key facts ([[key]]) first, then the sections ([[sections]]), each in the file's order."""
    data = read_toml(path)
    sections = _read(data.get("sections") or [], checklists, f"{path.name}, section", key=False)
    if not sections:
        raise ConfigError(f"{path.name} lists no sections")
    return _read(data.get("key") or [], checklists, f"{path.name}, key fact", key=True) + sections
