"""Dates validated as plausible, the bounds being data: the core minValue/maxValue extensions, a fixed valueDate or,
the SDC way, a valueDate whose cqf-expression is today() (a retry date not in the past, a birth not in the future)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.forms import validate
from app.forms.lint import code_lists, lint_questionnaire
from app.forms.validate import CQF_EXPRESSION, MAX_VALUE, MIN_VALUE, bound_of
from tests.forms.builders import answer, make_group, make_item, make_questionnaire, make_response
from tests.forms.test_validate import messages

TODAY = date(2026, 7, 1)


def bound(url: str, expression: str | None = None, fixed: str | None = None) -> dict:
    """A minValue/maxValue extension: a fixed date, or one calculated by a FHIRPath cqf-expression."""
    if fixed is not None:
        return {"url": url, "valueDate": fixed}
    calculated = {"url": CQF_EXPRESSION, "valueExpression": {"language": "text/fhirpath", "expression": expression}}
    return {"url": url, "_valueDate": {"extension": [calculated]}}


PLAUSIBLE = make_questionnaire(
    make_group(
        "g",
        make_item("retry", "date", text="Date to ask her again", extensions=[bound(MIN_VALUE, "today()")]),
        make_item("born", "date", text="Date of birth", extensions=[bound(MAX_VALUE, "today()")]),
        make_item("seen", "dateTime", text="Date and time seen", extensions=[bound(MAX_VALUE, "today()")]),
        make_item(
            "adult",
            "date",
            text="Date of birth of the adult",
            extensions=[bound(MAX_VALUE, "today() - 16 years"), bound(MIN_VALUE, fixed="1900-01-01")],
        ),
        make_item("fixed", "date", text="Date referred", extensions=[bound(MIN_VALUE, fixed="2026-01-01")]),
    )
)


def issues_for(link_id: str, value: dict) -> dict[str, str]:
    response = make_response(PLAUSIBLE)
    answer(response, link_id, value)
    return messages(validate(PLAUSIBLE, response, {}, today=TODAY))


@pytest.mark.parametrize(
    ("link_id", "value", "message"),
    [
        ("retry", {"valueDate": "2026-06-30"}, "Date to ask her again must be today or in the future"),
        ("born", {"valueDate": "2026-07-02"}, "Date of birth must be today or in the past"),
        ("seen", {"valueDateTime": "2026-07-02T09:00:00+01:00"}, "Date and time seen must be today or in the past"),
        ("adult", {"valueDate": "2010-07-02"}, "Date of birth of the adult must be on or before 1 July 2010"),
        ("adult", {"valueDate": "1899-12-31"}, "Date of birth of the adult must be on or after 1 January 1900"),
        ("fixed", {"valueDate": "2025-12-31"}, "Date referred must be on or after 1 January 2026"),
    ],
)
def test_a_date_out_of_its_bounds_is_refused_naming_the_question(link_id, value, message):
    assert issues_for(link_id, value) == {f"g~0/{link_id}~0": message}


@pytest.mark.parametrize(
    ("link_id", "value"),
    [
        ("retry", {"valueDate": "2026-07-01"}),  # today is allowed either way
        ("retry", {"valueDate": "2027-01-01"}),
        ("born", {"valueDate": "2026-07-01"}),
        ("seen", {"valueDateTime": "2026-07-01T23:30:00+01:00"}),  # late evening, still today on the unit's clock
        ("adult", {"valueDate": "2010-07-01"}),
        ("fixed", {"valueDate": "2026-01-01"}),
    ],
)
def test_a_date_within_its_bounds_is_accepted(link_id, value):
    assert issues_for(link_id, value) == {}


def test_a_date_and_time_is_bounded_by_its_day_on_the_units_clock():
    """23:30 UTC on 1 July is 00:30 on 2 July in London: tomorrow, whatever the server's own time zone."""
    assert issues_for("seen", {"valueDateTime": "2026-07-01T23:30:00Z"}) == {
        "g~0/seen~0": "Date and time seen must be today or in the past"
    }


def test_today_is_the_units_date_when_none_is_given():
    """No `today` passed: the date now in Europe/London, so a date of birth tomorrow is refused on any server."""
    response = make_response(PLAUSIBLE)
    answer(response, "born", {"valueDate": "2999-01-01"})
    assert messages(validate(PLAUSIBLE, response, {})) == {"g~0/born~0": "Date of birth must be today or in the past"}


def test_a_date_nobody_can_type_is_not_asked_for_by_its_bound():
    """What NeoSafe filled in and the clinician cannot change (read-only) is never held to a bound."""
    q = make_questionnaire(
        make_item("born", "date", text="Date of birth", readOnly=True, extensions=[bound(MAX_VALUE, "today()")])
    )
    response = make_response(q)
    answer(response, "born", {"valueDate": "2999-01-01"})
    assert validate(q, response, {}, today=TODAY) == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("today()", (TODAY, True)),
        ("today() + 7 days", (date(2026, 7, 8), False)),
        ("today() - 2 weeks", (date(2026, 6, 17), False)),
        ("today() + 1 month", (date(2026, 8, 1), False)),
        ("today() - 18 years", (date(2008, 7, 1), False)),
    ],
)
def test_bounds_calculated_from_today(expression, expected):
    item = make_item("d", "date", extensions=[bound(MIN_VALUE, expression)])
    assert bound_of(item, MIN_VALUE, TODAY) == expected


def test_a_month_later_from_the_31st_is_the_last_day_of_a_shorter_month():
    item = make_item("d", "date", extensions=[bound(MIN_VALUE, "today() + 1 month")])
    assert bound_of(item, MIN_VALUE, date(2026, 1, 31)) == (date(2026, 2, 28), False)


@pytest.mark.parametrize("expression", ["now()", "%resource.authored", "today() + 1 fortnight", "today() * 2"])
def test_a_bound_the_engine_cannot_read_is_an_error_not_ignored(expression):
    item = make_item("d", "date", extensions=[bound(MAX_VALUE, expression)])
    with pytest.raises(ValueError, match="must be today"):
        bound_of(item, MAX_VALUE, TODAY)


# ---------------------------------------------------------------- `neosafe checklists lint` reads the bounds too

CODES = code_lists(Path(__file__).resolve().parents[2] / "fhir_mappings")


def lint_lines(*items: dict) -> list[str]:
    return [f"{p.where}: {p.message}" for p in lint_questionnaire(make_questionnaire(*items), name="t", codes=CODES)]


def test_lint_takes_the_bounds_the_engine_reads():
    assert lint_lines(*PLAUSIBLE["item"]) == []


@pytest.mark.parametrize(
    ("item", "line"),
    [
        (
            make_item("n", "text", maxLength=10, extensions=[bound(MAX_VALUE, "today()")]),
            "n: minValue/maxValue are read only on a date or dateTime question",
        ),
        (
            make_item("d", "date", extensions=[bound(MAX_VALUE, "now()")]),
            "d: maxValue expression must be today(), or today() +/- a duration",
        ),
        (
            make_item("d", "date", extensions=[bound(MIN_VALUE, "today()"), bound(MAX_VALUE, "today() - 1 day")]),
            "d: minValue is after maxValue: no date could be entered",
        ),
    ],
)
def test_lint_fails_a_bound_the_engine_cannot_use(item, line):
    assert lint_lines(item) == [line]
