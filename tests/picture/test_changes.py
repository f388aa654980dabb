"""What the previous checklist saw and this picture does not: gone only where the source answered for that person."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from app.handover import document_environment
from app.picture import Person, PersonCheck, Picture, SourceStatus, mark_changes, snapshot
from tests.checkpoints.test_redaction import record

WHEN = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MOTHER = "9990101019"


def picture_now(police: SourceStatus, mother_check: PersonCheck | None = None) -> Picture:
    """The mother's police-gp record was seen at admission; now the source answers as given, with nothing."""
    baby = Person("baby", "Baby", "Zofia BRZOZAK", "9990101000", date(2026, 11, 20))
    mother = Person("mother", "Mother", "Anna BRZOZAK", MOTHER)
    if mother_check is not None:
        mother.checks["police-gp"] = mother_check
    return Picture(baby=baby, people=[baby, mother], sources=[police], records=[], gathered_at=WHEN)


def admission_snapshot() -> list[dict]:
    seen = picture_now(SourceStatus("police-gp", "found", "1 record", WHEN, 1))
    seen.records = [record("police-gp/Flag/1", restricted=False)]
    return snapshot(seen)


def gone_from(now: Picture) -> list[dict]:
    mark_changes(now, admission_snapshot(), since="the admission checklist of 20 November 2026")
    return now.gone


def test_a_record_the_source_answered_without_is_no_longer_found():
    (gone,) = gone_from(picture_now(SourceStatus("police-gp", "none-found", "nothing held", WHEN)))
    assert gone["checked_now"] is True and gone["display"] == "Police domestic incident report received"


def test_a_record_whose_source_is_down_now_is_not_checked_never_gone():
    """Unknown is not no: a source that failed this time says nothing about whether the record still stands."""
    (gone,) = gone_from(picture_now(SourceStatus("police-gp", "unavailable", "no answer within 10 s", None)))
    assert gone["checked_now"] is False and gone["start"] == "2019-03-02"  # still shown, dated


def test_a_record_whose_person_was_not_asked_now_is_not_checked_though_the_source_answered():
    partial = SourceStatus("police-gp", "partial", "the mother not asked", WHEN)
    unasked = PersonCheck("not-checked", "Not checked: no NHS number", reason="no NHS number")
    (gone,) = gone_from(picture_now(partial, unasked))
    assert gone["checked_now"] is False

    asked = PersonCheck("none-found", "Nothing held")
    (gone,) = gone_from(picture_now(SourceStatus("police-gp", "none-found", "nothing held", WHEN), asked))
    assert gone["checked_now"] is True


def test_a_record_of_someone_nobody_has_the_number_of_now_is_not_checked_never_gone():
    """A father traced on PDS at admission and not traced now (PDS down, another name) was not asked about now."""
    now = picture_now(SourceStatus("police-gp", "partial", "not checked for father (not traced on PDS)", WHEN))
    now.people = [now.baby]  # nobody holds the number his record was found under
    (gone,) = gone_from(now)
    assert gone["checked_now"] is False


def test_a_snapshot_kept_before_the_person_was_is_judged_on_the_source():
    old = [{k: v for k, v in r.items() if k != "person_nhs_number"} for r in admission_snapshot()]
    now = picture_now(SourceStatus("police-gp", "none-found", "nothing held", WHEN))
    mark_changes(now, old, since="the admission checklist of 20 November 2026")
    assert [g["checked_now"] for g in now.gone] == [True]


def test_the_page_says_not_checked_now_for_a_record_it_cannot_call_gone():
    down = picture_now(SourceStatus("police-gp", "unavailable", "no answer within 10 s", None))
    mark_changes(down, admission_snapshot(), since="the admission checklist of 20 November 2026")
    page = document_environment(Path("templates")).get_template("_picture.html").render(picture=down, labels={})
    assert 'data-testid="gone-unchecked"' in page and "source not checked now" in page
    assert 'data-testid="gone"' not in page and "not found now" not in page
