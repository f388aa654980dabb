"""Every item type the engine supports is drawn on the page (templates/_fields.html) and read back from the form.

The page is rendered with NeoSafe's own Jinja environment and read with an HTML parser: what a browser would
post is built from the controls actually drawn, then parsed by the engine.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from app.forms import apply_form, coding_key, enabled_paths, validate, walk
from app.web.form_view import field_id, form_fields
from app.web.templating import make_templates
from tests.forms.builders import (
    hidden,
    initial_expression,
    items_with,
    make_coding,
    make_group,
    make_help,
    make_item,
    make_questionnaire,
    make_response,
    max_occurs,
    min_occurs,
    when,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = ["polish", "romanian"]
FACTORS = ["alcohol", "smoking", "none"]

EVERY_TYPE = make_questionnaire(
    make_group(
        "g",
        make_item("intro", "display", text="Ask each question privately."),
        make_item("seen", "boolean", make_help("seen.help", "Seen on the unit."), text="Seen?", required=True),
        make_item("role", "choice", text="Role", options=["mother", "father"], required=True),
        make_item("factors", "choice", text="Risk factors", options=FACTORS, repeats=True, required=True),
        make_item("language", "open-choice", text="Language", options=LANGUAGES, required=True),
        make_item("name", "string", text="Name", required=True),
        make_item("plan", "text", text="Plan", required=True),
        make_item("score", "integer", text="DASH score", required=True),
        make_item("weight", "decimal", text="Weight (kg)", required=True),
        make_item("date-told", "date", text="Date told", required=True),
        make_item("signed", "dateTime", text="Date and time signed", required=True),
        make_item("why-not", "text", text="Why not", enableWhen=[when("seen", "=", answerBoolean=False)]),
        make_item("found", "string", text="Source", readOnly=True, extensions=[initial_expression("'maternity'")]),
        make_item("version", "string", text="Picture version", extensions=[hidden(), initial_expression("'v3'")]),
        text="Everything",
        required=True,
    ),
    make_group("carer", make_item("carer-name", "string", text="Carer name"), text="Carer", repeats=True),
    make_group("recipient", make_item("who", "string", text="Who"), repeats=True, extensions=[max_occurs(1)]),
)


class Controls(HTMLParser):
    """The form controls, labels, legends and body text of a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self.labels: dict[str, str] = {}
        self.legends: list[str] = []
        self.body: list[str] = []
        self.buttons: list[str] = []
        self.ids: set[str] = set()
        self._text: list[str] | None = None
        self._label_for: str | None = None
        self._tag: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag in ("input", "textarea"):
            self.inputs.append({"tag": tag, **attributes})
        if tag in ("label", "legend", "p", "button"):
            self._tag, self._text, self._label_for = tag, [], attributes.get("for")
            if tag == "p" and "nhsuk-body" not in attributes.get("class", ""):
                self._tag = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag != self._tag or self._text is None:
            return
        text = " ".join("".join(self._text).split())
        if tag == "label":
            self.labels[self._label_for or ""] = text
        else:
            {"legend": self.legends, "p": self.body, "button": self.buttons}[tag].append(text)
        self._tag = self._text = None


def render(questionnaire: dict, response: dict, **kwargs) -> Controls:
    env = make_templates(TEMPLATES).env
    page = env.from_string('{% from "_fields.html" import field %}{% for f in fields %}{{ field(f) }}{% endfor %}')
    fields = form_fields(questionnaire, response, enabled=enabled_paths(questionnaire, response, {}), **kwargs)
    controls = Controls()
    controls.feed(page.render(fields=fields))
    return controls


def named(controls: Controls, name: str) -> list[dict[str, str]]:
    return [i for i in controls.inputs if i.get("name") == name]


def test_every_item_type_is_drawn_with_its_own_control():
    controls = render(EVERY_TYPE, make_response(EVERY_TYPE))

    assert [(i["type"], controls.labels[i["id"]]) for i in named(controls, "g~0/seen~0")] == [
        ("radio", "Yes"),
        ("radio", "No"),
    ]
    assert [i["type"] for i in named(controls, "g~0/role~0")] == ["radio", "radio"]
    assert [i["type"] for i in named(controls, "g~0/factors~0")] == ["checkbox"] * 3
    assert [i["type"] for i in named(controls, "g~0/language~0")] == ["radio", "radio"]
    assert [i["type"] for i in named(controls, "g~0/language~0:other")] == ["text"]
    assert named(controls, "g~0/name~0")[0]["type"] == "text"
    assert named(controls, "g~0/plan~0")[0]["tag"] == "textarea"
    assert named(controls, "g~0/score~0")[0]["inputmode"] == "numeric"
    assert named(controls, "g~0/weight~0")[0]["inputmode"] == "decimal"
    # NHS.UK date input: day, month and year boxes (a date and time adds the time), numeric keyboards for the date
    date_boxes = [
        (i["type"], i.get("inputmode"))
        for n in ("day", "month", "year")
        for i in named(controls, f"g~0/date-told~0:{n}")
    ]
    assert date_boxes == [("text", "numeric")] * 3
    assert [
        controls.labels[i["id"]] for n in ("day", "month", "year", "time") for i in named(controls, f"g~0/signed~0:{n}")
    ] == ["Day", "Month", "Year", "Time (24-hour)"]
    assert not named(controls, "g~0/date-told~0:time")
    assert "Ask each question privately." in controls.body  # display text inside a group is body text
    assert "Source: maternity" in controls.body  # read-only: shown, not editable
    assert not named(controls, "g~0/found~0")
    assert not named(controls, "g~0/version~0")  # hidden: not on the page at all
    assert controls.legends == [
        "Everything",
        "Seen?",
        "Role",
        "Risk factors",
        "Language",
        "Date told",
        "Date and time signed",
        "Carer 1",
        "Recipient 1",
    ]


def test_every_control_has_a_label_or_a_legend():
    controls = render(EVERY_TYPE, make_response(EVERY_TYPE))
    visible = [i for i in controls.inputs if i.get("type") != "hidden"]

    assert all(i["id"] in controls.labels for i in visible), [
        i["name"] for i in visible if i["id"] not in controls.labels
    ]
    assert {
        "Name",
        "Plan",
        "DASH score",
        "Weight (kg)",
        "Day",
        "Month",
        "Year",
        "Time (24-hour)",
        "Other (type it)",
    } <= set(controls.labels.values())


def test_add_another_is_offered_until_max_occurs():
    controls = render(EVERY_TYPE, make_response(EVERY_TYPE))

    assert controls.buttons == ["Add another: carer"]  # recipient allows one entry only


def posted(controls: Controls, choices: dict[str, list[str]], typed: dict[str, str]) -> dict[str, list[str]]:
    """What the browser posts: the values of the checked options chosen, and the text typed."""
    form: dict[str, list[str]] = {}
    for control in controls.inputs:
        name = control.get("name", "")
        if control.get("type") in ("radio", "checkbox"):
            if control["value"] in choices.get(name, []):
                form.setdefault(name, []).append(control["value"])
        elif name in typed:
            form[name] = [typed[name]]
        elif control.get("type") == "hidden":
            form[name] = [control.get("value", "")]
    return form


def test_what_is_drawn_reads_back_as_typed_answers_and_is_drawn_again_as_answered():
    response = make_response(EVERY_TYPE)
    controls = render(EVERY_TYPE, response)
    polish, alcohol, smoking = (coding_key(make_coding(c)) for c in ("polish", "alcohol", "smoking"))
    form = posted(
        controls,
        {
            "g~0/seen~0": ["false"],
            "g~0/role~0": [coding_key(make_coding("father"))],
            "g~0/factors~0": [alcohol, smoking],
            "g~0/language~0": [polish],
        },
        {
            "g~0/name~0": "Piotr",
            "g~0/plan~0": "Visit on Tuesday",
            "g~0/score~0": "0",
            "g~0/weight~0": "1.25",
            "g~0/date-told~0:day": "20",
            "g~0/date-told~0:month": "11",
            "g~0/date-told~0:year": "2026",
            "g~0/signed~0:day": "20",
            "g~0/signed~0:month": "11",
            "g~0/signed~0:year": "2026",
            "g~0/signed~0:time": "14:30",
            "g~0/why-not~0": "Works nights",
        },
    )

    assert apply_form(EVERY_TYPE, response, form) == {}
    assert validate(EVERY_TYPE, response, {}) == []
    answers = {n.q["linkId"]: n.r.get("answer") for n in walk(EVERY_TYPE, response) if not n.is_group}
    assert answers == {
        "seen": [{"valueBoolean": False}],
        "role": [{"valueCoding": make_coding("father")}],
        "factors": [{"valueCoding": make_coding("alcohol")}, {"valueCoding": make_coding("smoking")}],
        "language": [{"valueCoding": make_coding("polish")}],
        "name": [{"valueString": "Piotr"}],
        "plan": [{"valueString": "Visit on Tuesday"}],
        "score": [{"valueInteger": 0}],
        "weight": [{"valueDecimal": 1.25}],
        "date-told": [{"valueDate": "2026-11-20"}],
        "signed": [{"valueDateTime": "2026-11-20T14:30:00+00:00"}],
        "why-not": [{"valueString": "Works nights"}],
        "found": [{"valueString": "maternity"}],
        "version": [{"valueString": "v3"}],  # hidden: kept although never on the page
        "carer-name": None,
        "who": None,
    }

    again = render(EVERY_TYPE, response)
    checked = {(i["name"], i["value"]) for i in again.inputs if "checked" in i}
    assert checked == {
        ("g~0/seen~0", "false"),
        ("g~0/role~0", coding_key(make_coding("father"))),
        ("g~0/factors~0", alcohol),
        ("g~0/factors~0", smoking),
        ("g~0/language~0", polish),
    }
    assert named(again, "g~0/score~0")[0]["value"] == "0"
    assert [named(again, f"g~0/date-told~0:{n}")[0]["value"] for n in ("day", "month", "year")] == ["20", "11", "2026"]
    assert named(again, "g~0/signed~0:time")[0]["value"] == "14:30"


def test_open_choice_other_text_is_drawn_in_the_other_box():
    response = make_response(EVERY_TYPE)
    items_with(response, "language")[0]["answer"] = [{"valueString": "Tigrinya"}]

    assert named(render(EVERY_TYPE, response), "g~0/language~0:other")[0]["value"] == "Tigrinya"


def test_a_field_with_an_error_is_described_by_its_message():
    response = make_response(EVERY_TYPE)
    controls = render(EVERY_TYPE, response, issues=validate(EVERY_TYPE, response, {}))

    [name] = named(controls, "g~0/name~0")
    assert name["aria-describedby"] == "f-g_0_name_0-error"
    assert "nhsuk-input--error" in name["class"]


def test_every_error_links_to_an_element_on_the_page():
    """The error summary links to field_id(path): a control, a read-only value or a group's fieldset."""
    q = {**EVERY_TYPE, "item": [*EVERY_TYPE["item"]]}
    q["item"][1] = {**q["item"][1], "required": True, "extension": [min_occurs(2)]}
    response = make_response(q)
    issues = validate(q, response, {})
    controls = render(q, response, issues=issues)

    assert {i.path for i in issues} >= {"g~0/seen~0", "g~0/factors~0", "carer~0"}  # carer~0: a group
    assert all(field_id(i.path) in controls.ids for i in issues), [i.path for i in issues]


def test_a_date_and_time_is_drawn_again_in_its_boxes_on_the_units_clock():
    """The date input's boxes hold the day, month, year and time typed: drawn again, exactly those (in BST too)."""
    response = make_response(EVERY_TYPE)
    typed = {
        **{f"g~0/date-told~0:{n}": v for n, v in zip(("day", "month", "year"), ("1", "7", "2026"), strict=True)},
        **{
            f"g~0/signed~0:{n}": v
            for n, v in zip(("day", "month", "year", "time"), ("1", "7", "2026", "14:30"), strict=True)
        },
    }
    assert apply_form(EVERY_TYPE, response, posted(render(EVERY_TYPE, response), {}, typed)) == {}
    assert items_with(response, "signed")[0]["answer"] == [{"valueDateTime": "2026-07-01T14:30:00+01:00"}]

    again = render(EVERY_TYPE, response)

    assert {name: named(again, name)[0]["value"] for name in typed} == typed
