"""Load the checklists (FHIR Questionnaires in checklists/) once, checked as R4, by checkpoint and by canonical."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import ValidationError

from app.config import ConfigError

from .populate import canonical

__all__ = ["CHECKPOINTS", "Checklists", "load_checklists"]

CHECKPOINTS = ("admission", "transfer", "discharge")


@dataclass(frozen=True)
class Checklists:
    by_checkpoint: dict[str, dict[str, Any]]
    by_canonical: dict[str, dict[str, Any]]

    def for_checkpoint(self, checkpoint: str) -> dict[str, Any]:
        try:
            return self.by_checkpoint[checkpoint]
        except KeyError:
            raise LookupError(f"no checklist for checkpoint '{checkpoint}'") from None

    def for_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """The exact Questionnaire version a response was made on."""
        try:
            return self.by_canonical[response.get("questionnaire", "")]
        except KeyError:
            raise LookupError(f"unknown checklist {response.get('questionnaire')!r}") from None


def load_checklists(directory: Path) -> Checklists:
    """Every checklists/<checkpoint>.json; each must be a valid R4 Questionnaire with url and version."""
    by_checkpoint: dict[str, dict[str, Any]] = {}
    by_canonical: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            Questionnaire.model_validate(data)
        except (ValueError, ValidationError) as exc:
            raise ConfigError(f"checklist {path.name} is not a valid FHIR R4 Questionnaire: {exc}") from exc
        if not data.get("url") or not data.get("version"):
            raise ConfigError(f"checklist {path.name} needs both url and version")
        by_canonical[canonical(data)] = data
        if path.stem in CHECKPOINTS:
            by_checkpoint[path.stem] = data
    return Checklists(by_checkpoint=by_checkpoint, by_canonical=by_canonical)
