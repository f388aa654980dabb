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
