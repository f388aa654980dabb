"""The picture as a role may see it: one redaction, drawn as it is by the pages, the API and the handover."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from app.checkpoints import DEMO_USERS, WITHHELD, seen_by
from app.checkpoints.redaction import ASKED_BY_ANOTHER, kept_for
from app.picture import OpenTask, Person, PersonCheck, Picture, Record, SourceStatus

WHEN = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def record(key: str, *, restricted: bool) -> Record:
    return Record(
        key=key,
        category="domestic-abuse",
        category_label="Domestic abuse",
        risk=True,
        code="836881000000105",
        system="http://snomed.info/sct",
        display="Police domestic incident report received",
        current=False,
        status="inactive",
        resource_type="Flag",
        source="police-gp",
        person_nhs_number="9990101019",
        person_role="mother",
        person_name="Anna BRZOZAK",
        start="2019-03-02",
        restricted=restricted,
    )


def picture() -> Picture:
    baby = Person("baby", "Baby", "Zofia BRZOZAK", "9990101000", date(2026, 11, 20))
    return Picture(
        baby=baby,
        people=[baby],
        sources=[SourceStatus("police-gp", "found", "2 records", WHEN, 2)],
        records=[record("police-gp/Flag/1", restricted=True), record("police-gp/Flag/2", restricted=False)],
        gathered_at=WHEN,
        gone=[{"category": "domestic-abuse", "display": "MARAC referral", "restricted": True, "source": "police-gp"}],
        open_tasks=[OpenTask("Refer to MARAC", "Safeguarding team", None, "requested", "neonatal", True)],
    )


def test_a_role_that_may_not_see_restricted_records_sees_that_they_exist_and_whom_to_ask():
    shown = seen_by(picture(), DEMO_USERS["community-nurse"])
    restricted, open_record = shown.records
    assert (restricted.display, restricted.code, restricted.system) == (WITHHELD, "", "")
    assert (restricted.start, restricted.category, restricted.source, restricted.restricted) == (
        "2019-03-02",
        "domestic-abuse",
        "police-gp",
        True,
    )  # history never expires: when, what kind and where are never withheld
    assert open_record.display == "Police domestic incident report received"
    assert shown.gone[0]["display"] == WITHHELD
    assert shown.open_tasks[0].description == WITHHELD


def test_roles_that_may_see_them_see_everything_and_the_original_is_never_changed():
    original = picture()
    assert seen_by(original, DEMO_USERS["nurse"]) is original
    seen_by(original, DEMO_USERS["community-nurse"])
    assert original.records[0].display == "Police domestic incident report received"
    assert original.gone[0]["display"] == "MARAC referral"
    assert original.open_tasks[0].description == "Refer to MARAC"


def test_an_nhs_number_a_pds_trace_gave_one_clinician_is_not_given_to_another_reader():
    """A trace is asked with the clinician's own CIS2 token: the number it found, and what was found under it, are
    hers; for anyone else reusing her kept picture the father is not traced (asked by another clinician)."""
    kept = picture()
    father = Person("father", "Father", "Gareth PENNOCK", "9990101027", date(1991, 7, 14), traced=True)
    father.checks = {"police-gp": PersonCheck("found", "1 record", 1)}
    father.nhs_number_status = "NHS number 999 010 1027 found by PDS trace (matched on family name)"
    theirs = replace(record("police-gp/Flag/3", restricted=False), person_nhs_number="9990101027")
    kept.people, kept.records = [kept.baby, father], [*kept.records, theirs]
    nurse, lead = DEMO_USERS["nurse"], DEMO_USERS["safeguarding-lead"]

    hers = kept_for(kept, asked_by=nurse.id, reader=nurse, user_restricted=frozenset({"pds"}))
    other = kept_for(kept, asked_by=nurse.id, reader=lead, user_restricted=frozenset({"pds"}))

    assert hers is kept
    (_, him) = other.people
    assert (him.nhs_number, him.traced, him.nhs_number_verified) == (None, False, False)
    assert him.nhs_number_status == f"No NHS number: not traced: {ASKED_BY_ANOTHER}"
    assert him.checks["police-gp"].status == "not-checked" and "9990101027" not in str(other.records)
    assert len(other.records) == 2 and father.nhs_number == "9990101027"  # the kept picture itself is unchanged
