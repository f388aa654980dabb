"""What a source says is text, never markup: a record or a name carrying HTML is shown as the characters it is."""

from __future__ import annotations

import httpx

from tests.factories import create, make_flag, make_patient, new_nhs_number

SCRIPT = "<script>document.title='taken'</script>"
IMAGE = '<img src=x onerror="alert(1)">'


def test_markup_from_a_source_is_shown_escaped_on_every_page(live, fhir):
    number = new_nhs_number()
    patient_id = f"nn-test-{number}"
    flag = make_flag(patient_id, "1010196001")
    flag["code"]["text"] = f"Concern {SCRIPT}"
    create(fhir["neonatal"], make_patient(patient_id, number, name=[{"given": [IMAGE], "family": "Baby"}]), flag)

    with httpx.Client(base_url=live.url, timeout=60) as browser:
        assert browser.post("/sign-in", data={"role": "nurse"}).status_code == 303
        pages = [browser.get(path) for path in (f"/patients/{number}", f"/patients/{number}/handover")]

    for page in pages:
        assert page.status_code == 200
        assert SCRIPT not in page.text and IMAGE not in page.text
        assert "&lt;img" in page.text  # the baby's name, as a source spelled it


def test_the_pages_indent_filter_draws_what_jinjas_own_does():
    """Issue 14: the pages' `indent` (app.handover.document.indent) is Jinja's, faster on Markup; same text, same
    safety: markup in the text stays as escaped (or not) as it came, a plain string stays plain."""
    from jinja2.filters import do_indent
    from markupsafe import Markup

    from app.config import PROJECT_ROOT
    from app.handover import document_environment
    from app.handover.document import indent

    texts = ["", "one", "a\nb", "\n\nlast\n", "x\r\ny\n\n  z", f"<p>{IMAGE}</p>\n<b>&amp;</b>\n", "tab\tline\n\x0bv"]
    for text in texts:
        for value in (text, Markup(text), Markup.escape(text)):
            for width in (0, 2, 4, "<i>", "--"):
                for first in (False, True):
                    for blank in (False, True):
                        ours, jinjas = indent(value, width, first, blank), do_indent(value, width, first, blank)
                        assert ours == jinjas and type(ours) is type(jinjas), (value, width, first, blank)

    env = document_environment(PROJECT_ROOT / "templates")
    jinja_env = document_environment(PROJECT_ROOT / "templates")
    jinja_env.filters["indent"] = do_indent
    source = """{% from "nhsuk/components/date-input/macro.jinja" import dateInput %}{{ dateInput({"id": "d",
      "items": [{"id": "d", "name": "d:day", "label": "Day", "value": v, "width": 2}], "hint": v,
      "errorMessage": {"text": v}, "fieldset": {"legend": {"text": v}}}) }}"""
    drawn = env.from_string(source).render(v=SCRIPT)
    assert drawn == jinja_env.from_string(source).render(v=SCRIPT)
    assert SCRIPT not in drawn and "&lt;script&gt;" in drawn
