"""fhir_mappings/assurance.toml is checked against the checklists when read: a figure cannot silently count zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.checkpoints import Checkpoints
from app.config import ConfigError
from app.forms import load_checklists, load_measures
from app.main import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).parents[2]
CHECKLISTS = load_checklists(ROOT / "checklists")


def test_the_reviewed_file_names_only_what_the_checklists_hold():
    measures = load_measures(ROOT / "fhir_mappings", CHECKLISTS)
    assert {m.key for m in measures} >= {"father-icon", "da-enquiry", "interpreter-family"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('item = "A5-father-seen.man.seen"', 'item = "A5-father-seen.man.was-seen"', "has no item"),
        ('answers = ["icon-given"]', 'answers = ["icon-handed-out"]', "has no answer"),
        ('checklist = "father-day7"', 'checklist = "father-day-7"', "there is no 'father-day-7' checklist"),
        ("answers = [true] }", 'answers = ["yes"] }', "answers must be true or false"),
    ],
)
def test_a_name_the_checklist_does_not_have_stops_the_load(tmp_path: Path, old: str, new: str, message: str):
    shutil.copy(ROOT / "fhir_mappings" / "assurance.toml", tmp_path / "assurance.toml")
    path = tmp_path / "assurance.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        load_measures(tmp_path, CHECKLISTS)


def test_a_broken_file_stops_neosafe_starting_not_the_first_page_view(tmp_path: Path):
    """assurance.toml is read once, at wiring: a wrong name refuses the start (create_app), with the file named."""
    mappings = tmp_path / "fhir_mappings"
    shutil.copytree(ROOT / "fhir_mappings", mappings)
    path = mappings / "assurance.toml"
    path.write_text(path.read_text().replace('answers = ["icon-given"]', 'answers = ["icon-handed-out"]', 1))
    settings = make_settings(tmp_path).model_copy(update={"mappings_dir": mappings})

    with pytest.raises(ConfigError, match=r"assurance\.toml: father-icon\.given: D6-icon\.carer\.status has no answer"):
        create_app(settings, sources=[])


def test_the_wiring_holds_the_measures_the_file_names(tmp_path: Path):
    wired = Checkpoints.wire(make_settings(tmp_path), sources=[])
    assert wired.measures == load_measures(ROOT / "fhir_mappings", wired.checklists)
