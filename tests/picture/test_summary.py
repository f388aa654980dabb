"""The summary's rules (fhir_mappings/severity.toml, app.checkpoints.summary), on pictures built here: severity decides
prominence, never the record's status alone; history never expires; nothing is dropped; unknown is not no."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.checkpoints import Checkpoints
from app.checkpoints.summary import load_severity, summarise, summary_for
from app.config import ConfigError, Settings
from app.picture.models import Person, PersonCheck, Picture, Record, SourceStatus

MAPPINGS = Settings.model_fields["mappings_dir"].default
TODAY = date(2026, 12, 2)
SECRET = "a test secret of at least thirty-two characters"
LABELS = {"police-gp": "Police and GP safeguarding notices", "neonatal": "Neonatal unit record (EPR)"}


def record(category: str, *, current: bool, start: str, end: str | None = None, code: str = "x", **kw) -> Record:
    return Record(
        key=f"police-gp/Flag/{category}-{start}",
        category=category,
        category_label=category.replace("-", " ").capitalize(),
        risk=True,
        code=code,
        system=kw.pop("system", "http://snomed.info/sct"),
        display=kw.pop("display", f"A {category} record"),
        current=current,
        status="active" if current else "inactive",
        resource_type="Flag",
        source=kw.pop("source", "police-gp"),
        person_nhs_number="9990102007",
        person_role="mother",
        person_name="Ann EXAMPLE",
        start=start,
        end=end,
        **kw,
    )


def picture(*records: Record, sources: list[SourceStatus] | None = None, people: list[Person] | None = None) -> Picture:
    baby = Person("baby", "Baby", "Baby EXAMPLE", "9990101000")
    mother = Person("mother", "Mother", "Ann EXAMPLE", "9990102007")
    return Picture(
        baby=baby,
        people=people or [baby, mother],
        sources=sources or [SourceStatus("police-gp", "found", "", datetime(2026, 12, 2, tzinfo=UTC))],
        records=list(records),
        gathered_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def summary_of(p: Picture):
    return summarise(p, load_severity(MAPPINGS), labels=LABELS, today=TODAY)


def test_historic_domestic_abuse_outranks_a_current_administrative_flag():
    parking = record(
        "uncategorised-flag",
        current=True,
        start="2026-11-21",
        system="https://fenmoor.example.nhs.uk/CodeSystem/local-flag",
        code="PARK-PERMIT",
        display="Parent parking permit issued",
        source="neonatal",
    )
    abuse = record("domestic-abuse", current=False, start="2024-01-14", end="2025-04-09")
    summary = summary_of(picture(parking, abuse))

    (tier, _, groups), *others = summary.tiers
    assert tier == "serious" and [c.what for _, cs in groups for c in cs] == ["A domestic-abuse record"]
    assert not others
    assert [c.what for c in summary.administrative] == ["Parent parking permit issued"]


def test_recency_and_current_decide_within_a_category_and_history_never_expires():
    old = record("domestic-abuse", current=False, start="2009-01-01", end="2010-01-01", display="Old")
    recent = record("domestic-abuse", current=False, start="2024-01-01", end="2025-01-01", display="Recent")
    now = record("domestic-abuse", current=True, start="2020-01-01", display="Current")
    summary = summary_of(picture(old, recent, now))

    by_tier = {tier: [c.what for _, cs in groups for c in cs] for tier, _, groups in summary.tiers}
    assert by_tier == {"serious": ["Current", "Recent"], "concern": ["Old"]}  # older than 36 months: still shown


def test_an_unrecognised_flag_is_listed_for_someone_to_read_never_assumed_administrative():
    local = record("uncategorised-flag", current=True, start="2026-11-01", system="https://example.org/local", code="Z")
    summary = summary_of(picture(local))

    assert summary.tiers[0][0] == "concern" and not summary.administrative


def test_a_category_severity_toml_does_not_name_is_a_concern_never_left_out():
    summary = summary_of(picture(record("a-category-added-later", current=True, start="2026-01-01")))

    assert summary.tiers[0][0] == "concern"


def test_every_record_is_in_one_part_of_the_summary():
    records = [
        record(c, current=cur, start=s)
        for c in ("child-protection", "social-care", "mental-health", "da-enquiry", "uncategorised-flag")
        for cur, s in ((True, "2026-01-01"), (False, "2001-01-01"))
    ]
    summary = summary_of(picture(*records))

    shown = sum(len(cs) for _, _, groups in summary.tiers for _, cs in groups) + len(summary.administrative)
    assert shown == len(records)


def test_sources_and_people_not_checked_are_said_in_words():
    father = Person(
        "father",
        "Father",
        "Joe EXAMPLE",
        None,
        checks={"police-gp": PersonCheck("not-checked", "Not checked: no NHS number", reason="no NHS number")},
    )
    baby = Person("baby", "Baby", "Baby EXAMPLE", "9990101000")
    down = SourceStatus("neonatal", "unavailable", "timed out after 10 s", None)
    partial = SourceStatus("police-gp", "partial", "not checked for father (no NHS number)", None)
    summary = summary_of(picture(sources=[down, partial], people=[baby, father]))

    assert summary.sources_not_checked == ["Neonatal unit record (EPR): timed out after 10 s"]
    assert summary.people_not_checked == [
        "Joe EXAMPLE, father: not checked in Police and GP safeguarding notices (no NHS number)"
    ]
    assert not summary.tiers


def test_a_severity_file_naming_an_unknown_tier_is_refused(tmp_path: Path):
    shutil.copy(MAPPINGS / "severity.toml", tmp_path / "severity.toml")
    text = (tmp_path / "severity.toml").read_text().replace('older = "note"', 'older = "ignore"', 1)
    (tmp_path / "severity.toml").write_text(text)

    with pytest.raises(ValueError, match="ignore"):
        load_severity(tmp_path)


def test_a_severity_file_missing_its_tiers_is_refused_with_its_name(tmp_path: Path):
    text = (MAPPINGS / "severity.toml").read_text().replace("[[tiers]]", "[[levels]]")
    (tmp_path / "severity.toml").write_text(text)

    with pytest.raises(ConfigError, match=r"severity\.toml"):
        load_severity(tmp_path)


def test_a_broken_severity_file_stops_the_service_being_wired(tmp_path: Path):
    """Read when the service is wired, not on the first page that shows a summary."""
    shutil.copytree(MAPPINGS, tmp_path, dirs_exist_ok=True)
    (tmp_path / "severity.toml").write_text("recent_months = [")

    with pytest.raises(ConfigError, match=r"severity\.toml"):
        Checkpoints.wire(Settings(mappings_dir=tmp_path, secret_key=SECRET), sources=[])


def test_the_summary_reads_today_as_the_units_date_not_utcs():
    """At 23:30 UTC on 30 June it is already 1 July on the unit, so a record that ended on 29 June 2023 is then
    more than 36 months old (severity.toml's recent_months)."""
    ended = record("domestic-abuse", current=False, start="2020-01-01", end="2023-06-29")
    late_evening = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    wiring = Checkpoints.wire(Settings(secret_key=SECRET), sources=[], clock=lambda: late_evening)

    def on(day: date):
        return summarise(picture(ended), wiring.severity, labels=wiring.mappings.source_labels, today=day)

    assert on(date(2026, 6, 30)) != on(date(2026, 7, 1))  # the boundary this test stands on
    assert summary_for(wiring, picture(ended)) == on(date(2026, 7, 1))
