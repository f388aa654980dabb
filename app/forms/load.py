"""Load the checklists (FHIR Questionnaires) once, checked as R4, by checkpoint and by versioned canonical.

checklists/<checkpoint>.json are the versions in use. When a checklist changes, its old version moves to
checklists/archive/<checkpoint>-<version>.json, so responses made on it still render and validate with
the questions they answered. A date bound calculated the SDC way (minValue/maxValue whose valueDate carries a
cqf-expression, e.g. a retry date not before today()) is valid FHIR the R4B model cannot hold: it is checked as R4
without it, and read as written, so the server enforces it (app.forms.validate) whatever the page does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import ValidationError

from app.config import ConfigError

from .populate import canonical
from .validate import without_calculated_bounds

__all__ = ["CHECKPOINTS", "Checklists", "load_checklists"]

# The three moments of the stay with a checklist, then the in-stay checks between them (when each is due is
# app.checkpoints.schedule); the order is the order pages list them in.
CHECKPOINTS = ("admission", "transfer", "discharge", "review-72h", "weekly", "father-day7")


@dataclass(frozen=True)
class Checklists:
    by_checkpoint: dict[str, dict[str, Any]]
    by_canonical: dict[str, dict[str, Any]]
    checkpoints: dict[str, str]  # canonical -> checkpoint

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

    def checkpoint_of(self, questionnaire: dict[str, Any]) -> str:
        return self.checkpoints[canonical(questionnaire)]

    def short_title(self, checkpoint: str) -> str:
        """What pages call a checkpoint: its checklist's title after "Safeguarding checklist: " ("72-hour review")."""
        title = self.by_checkpoint.get(checkpoint, {}).get("title") or checkpoint
        return title.split(": ", 1)[-1]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        Questionnaire.model_validate(without_calculated_bounds(data))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"checklist {path.name} is not a valid FHIR R4 Questionnaire: {exc}") from exc
    if not data.get("url") or not data.get("version"):
        raise ConfigError(f"checklist {path.name} needs both url and version")
    return data


def load_checklists(directory: Path) -> Checklists:
    """Every checklists/<checkpoint>.json in use, and every archived version under checklists/archive/."""
    by_checkpoint = {p.stem: _read(p) for p in sorted(directory.glob("*.json")) if p.stem in CHECKPOINTS}
    by_canonical: dict[str, dict[str, Any]] = {}
    checkpoints: dict[str, str] = {}
    for checkpoint, data in by_checkpoint.items():
        by_canonical[canonical(data)] = data
        checkpoints[canonical(data)] = checkpoint
    for path in sorted((directory / "archive").glob("*.json")):
        data = _read(path)
        checkpoint = path.stem.rsplit("-", 1)[0]
        if checkpoint not in CHECKPOINTS:
            raise ConfigError(f"archived checklist {path.name} must be named <checkpoint>-<version>.json")
        if canonical(data) in by_canonical:
            raise ConfigError(f"archived checklist {path.name} has the same url|version as one in use")
        by_canonical[canonical(data)] = data
        checkpoints[canonical(data)] = checkpoint
    return Checklists(by_checkpoint=by_checkpoint, by_canonical=by_canonical, checkpoints=checkpoints)
