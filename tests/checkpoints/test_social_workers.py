"""social_workers(): the named social workers the handover goes to (D10's social worker recipients), from the
picture's current social care, child protection and looked-after records only."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.checkpoints.pictures import social_workers
from app.picture import Person, Picture, Record

WHEN = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def record(
    n: int, *, category: str = "social-care", current: bool = True, contact: str | None, organisation: str | None
) -> Record:
    return Record(
        key=f"social-care/EpisodeOfCare/{n}",
        category=category,
        category_label=category,
        risk=True,
        code="code",
        system="https://example.org/codes",
        display="Social care involvement",
        current=current,
        status="active" if current else "finished",
        resource_type="EpisodeOfCare",
        source="social-care",
        person_nhs_number="9990401004",
        person_role="baby",
        person_name="Test BABY",
        organisation=organisation,
        contact=contact,
    )


def picture(*records: Record) -> Picture:
    baby = Person("baby", "Baby", "Test BABY", "9990401004", date(2026, 11, 20))
    return Picture(baby=baby, people=[baby], sources=[], records=list(records), gathered_at=WHEN)


def test_only_current_records_name_a_social_worker_never_a_closed_one():
    workers = social_workers(
        picture(
            record(1, contact="Priya Ramsden, 01632 960001", organisation="Fenmoor LA"),
            record(2, current=False, contact="Closed Caseworker, 01632 960009", organisation="Fenmoor LA"),
        )
    )

    assert workers == ["Priya Ramsden, 01632 960001 (Fenmoor LA)"]


def test_several_workers_each_once_in_the_pictures_order_across_social_care_kinds():
    workers = social_workers(
        picture(
            record(1, category="child-protection", contact="Priya Ramsden", organisation="Fenmoor LA"),
            record(2, category="looked-after", contact="Tom Ashby", organisation=None),  # no team: the name alone
            record(3, category="social-care", contact="Priya Ramsden", organisation="Fenmoor LA"),  # the same, once
            record(4, category="social-care", contact="Priya Ramsden", organisation="Riverside LA"),  # another team
            record(5, category="domestic-abuse", contact="PC Jane Holt", organisation="Police"),  # not social care
        )
    )

    assert workers == ["Priya Ramsden (Fenmoor LA)", "Tom Ashby", "Priya Ramsden (Riverside LA)"]


def test_records_naming_nobody_give_no_social_worker():
    assert social_workers(picture(record(1, contact=None, organisation="Fenmoor LA"))) == []
    assert social_workers(picture(record(1, contact="", organisation="Fenmoor LA"))) == []
    assert social_workers(picture()) == []
