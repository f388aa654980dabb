"""kept_date_input: NHS.UK frontend's dateInput, a blank one's markup kept; exactly what the component draws."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.web.templating import DATE_INPUT, kept_date_input, make_templates

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
CALL = """{{% set items = [
  {{"id": "d", "name": "d:day", "label": "Day", "value": {day}, "width": 2, "classes": ""}},
  {{"id": "d-month", "name": "d:month", "label": "Month", "value": {month}, "width": 2, "classes": ""}},
  {{"id": "d-year", "name": "d:year", "label": "Year", "value": {year}, "width": 4, "classes": ""}}
] %}}{{{{ {draw}({{"id": "d-date", "items": items, "hint": {hint}, "errorMessage": {error},
  "fieldset": {{"legend": {{"text": "Date of birth", "classes": "nhsuk-fieldset__legend--s"}}}}}}) }}}}"""
BLANK = {"day": "parts.day", "month": "parts.month", "year": "parts.year", "hint": "'For example, 26 11 2026.'"}
CASES = {
    "blank": {**BLANK, "error": "undefined"},
    "a value": {**BLANK, "day": "'4'", "month": "'7'", "year": "'2026'", "error": "undefined"},
    "an error": {**BLANK, "error": "'Enter a real date'"},
    "a hint as markup": {**BLANK, "hint": "'<b>x</b>' | safe", "error": "undefined"},
}


@pytest.fixture
def env():
    return make_templates(TEMPLATES).env


def drawn(env, draw: str, case: dict[str, str]) -> str:
    prefix = "" if draw == "kept_date_input" else f'{{% from "{DATE_INPUT}" import dateInput %}}'
    return env.from_string(prefix + CALL.format(draw=draw, **case)).render(parts={})


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_it_draws_exactly_what_the_component_draws_first_time_and_again(env, case):
    expected = drawn(env, "dateInput", case)
    assert "nhsuk-date-input" in expected
    assert drawn(env, "kept_date_input", case) == expected
    assert drawn(env, "kept_date_input", case) == expected


def test_only_a_blank_one_is_kept(env, monkeypatch):
    draws: list[dict] = []
    module = env.get_template(DATE_INPUT).module
    component = module.dateInput
    monkeypatch.setattr(module, "dateInput", lambda params: draws.append(params) or component(params))
    env.globals["kept_date_input"] = kept_date_input(env)

    for _ in range(3):
        for case in CASES.values():
            drawn(env, "kept_date_input", case)

    assert len(draws) == 2 + 2 * 3, "each blank one drawn once; one with a value or an error every time"
