"""NeoSafe never reads its own answers back as evidence: what it wrote is a previous checklist, not a record."""

from __future__ import annotations

from tests.answering import completed, submitted, with_a_concern
from tests.factories import create_baby


def test_a_checklist_neosafe_wrote_is_not_a_safeguarding_record_in_the_next_picture(live, fhir):
    baby = create_baby(fhir["neonatal"])  # no records anywhere
    with live.client("nurse") as api:
        before = api.get(f"/api/patients/{baby}/picture").json()["records"]
        submitted(api, baby, with_a_concern(completed(api, baby), "Unexplained bruise on the left arm"))
        after = api.get(f"/api/patients/{baby}/picture?checkpoint=discharge").json()
    assert before == [] and after["records"] == []  # its Observations (a concern, DA enquiry...) are not evidence
    assert after["changes_since"].startswith("the admission checklist of ")  # it is the previous checklist
    assert after["open_tasks"]  # the tasks it raised are still to do, and discharge asks about them (D13)
