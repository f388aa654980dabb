"""The handover summary's sections, read from fhir_mappings/handover.toml and checked against the checklists.

The file is for clinical review: which checklist answers the community team receives, under which heading.
A heading naming a checklist item that does not exist fails at start-up, not in a handover at 3 a.m.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from app.config import ConfigError
from app.forms import Checklists

__all__ = ["Section", "load_sections"]


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[tuple[str, str], ...]  # (checkpoint, linkId of a top-level checklist item), in order


def _item(entry: str, checklists: Checklists, where: str) -> tuple[str, str]:
    checkpoint, _, link_id = entry.partition(":")
    questionnaire = checklists.by_checkpoint.get(checkpoint)
    if questionnaire is None:
        raise ConfigError(f"{where}: '{entry}' names no checklist (use admission:, transfer: or discharge:)")
    if link_id not in {i["linkId"] for i in questionnaire.get("item") or []}:
        raise ConfigError(f"{where}: '{entry}': the {checkpoint} checklist has no top-level item '{link_id}'")
    return checkpoint, link_id


def load_sections(path: Path, checklists: Checklists) -> list[Section]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    sections = []
    for number, table in enumerate(data.get("sections") or [], start=1):
        where = f"{path.name}, section {number}"
        if not table.get("title") or not table.get("items"):
            raise ConfigError(f"{where}: each section needs a title and items")
        sections.append(Section(table["title"], tuple(_item(e, checklists, where) for e in table["items"])))
    if not sections:
        raise ConfigError(f"{path.name} lists no sections")
    return sections
