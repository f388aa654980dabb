"""The Board's document holds counts only (issue 19 item 2): the babies behind a figure, and what was said of them,
never reach its template, whatever a figure carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.assurance import Baby, Figure, Period
from app.assurance.document import board_html, counts_only
from app.checkpoints import ROLES, User
from app.handover import document_environment

ROOT = Path(__file__).parents[2]
PERIOD = Period(datetime(2026, 10, 1).date(), datetime(2026, 11, 1).date())
LEAD = User("demo-safeguarding", "Chris Okafor", ROLES["safeguarding-lead"])


def overrides() -> Figure:
    figure = Figure(
        "overrides", "overrides", "Discharge holds overridden, by role", (("nurse", "Neonatal nurse"),), PERIOD.months
    )
    figure.add(
        "2026-10", "nurse", Baby("9990000022", "b-dis", "concern-at-discharge, by Alex Morgan: Baby Jones's father")
    )
    figure.add("2026-11", "nurse", Baby("9990000044", "d-dis", "Baby Smith"))
    figure.add("2026-11", "nurse", Baby("9990000055"))
    return figure


def test_a_figure_for_the_board_keeps_its_counts_and_none_of_its_babies():
    shown = counts_only(overrides())
    assert shown.babies == {}
    assert [shown.count(m, "nurse") for m in PERIOD.months] == [1, 2]
    assert shown.total("nurse") == 3 and shown.grand_total == 3


def test_the_board_s_document_names_no_baby_and_says_whose_it_is():
    html = board_html(
        document_environment(ROOT / "templates"),
        [overrides()],
        period=PERIOD,
        routes=None,
        made=datetime(2026, 12, 1, 9, 5, tzinfo=UTC),
        user=LEAD,
    )
    for withheld in ("9990000022", "999 000 0022", "9990000044", "b-dis", "Baby Jones", "Baby Smith", "Alex Morgan"):
        assert withheld not in html
    assert "<dt>Months</dt><dd>2026-10 to 2026-11</dd>" in html
    assert "<dt>Made</dt><dd>09:05 on 1 December 2026 (UK time)</dd>" in html
    assert "<dt>Made by</dt><dd>Chris Okafor (Safeguarding lead)</dd>" in html
    assert "<dt>Unit</dt><dd>Not named (delivery.toml names no unit)</dd>" in html
    assert "<strong>3</strong> neonatal nurse" in html
