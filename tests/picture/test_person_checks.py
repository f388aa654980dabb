"""Per person and per source, over HTTP from the sandbox: found / none found / not known / not checked / identity
mismatch; and what the record says about each person: language, interpreter need, date of birth, gestation, and
risk factors attributed to whom they are about (issue 12 items 5 and 7)."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from app.config import SourceSettings
from app.picture import Picture, picture_context
from app.picture.gestation import UCUM, gestation_days, settled
from app.picture.identity import compare, identity_of
from app.picture.people import INTERPRETER_REQUIRED
from tests.families import (
    BORROWED_BABY,
    BORROWED_FATHER,
    CASE_V_BABY,
    CASE_V_FATHER,
    CASE_V_MOTHER,
    NO_CONCERNS_BABY,
    NO_NHS_NUMBER_BABY,
    STRANGERS_SON,
)
from tests.picture.test_gather import picture_of, status_of
from tests.sources.scripted import Asked, scripted, searchset

NHS = "https://fhir.nhs.uk/Id/nhs-number"
SUSPECT = "police-gp"


def person(picture: Picture, role: str):
    return next(p for p in picture.people if p.role == role)


async def test_a_mother_without_an_nhs_number_is_never_none_found(sources):
    picture = await picture_of(NO_NHS_NUMBER_BABY, sources)

    mother = person(picture, "mother")
    assert mother.nhs_number is None and not mother.verified
    assert {c.status for c in mother.checks.values()} == {"not-checked"}
    assert all("no NHS number" in c.detail for c in mother.checks.values())
    # Maternity holds her (under its hospital number, with a declined DA enquiry) but could not be asked about her.
    assert set(status_of(picture).values()) == {"partial"}
    assert all(s.detail == "not checked for mother (no NHS number)" and not s.checked for s in picture.sources)
    context = picture_context(picture, checkpoint="admission")
    shown = next(p for p in context["people"] if p["role"] == "mother")
    assert {c["status"] for c in shown["checks"]} == {"not-checked"} and shown["verified"] is False
    assert "none-found" not in {s["status"] for s in context["sources"]}


async def test_a_borrowed_nhs_number_is_an_identity_mismatch_and_the_strangers_records_are_not_attributed(sources):
    picture = await picture_of(BORROWED_BABY, sources)

    father = person(picture, "father")
    assert father.nhs_number == BORROWED_FATHER and father.name == "Jordan PIKE"
    check = father.checks[SUSPECT]
    assert (check.status, check.records) == ("identity-mismatch", 0)
    assert not father.verified and SUSPECT not in father.found_on
    assert father.checks["maternity"].status == "none-found"  # maternity holds him, as the mother's partner
    # The stranger's police records, and his son, are nowhere in the family's picture.
    assert picture.records == []
    assert STRANGERS_SON not in {p.nhs_number for p in picture.people}
    police = next(s for s in picture.sources if s.name == SUSPECT)
    assert police.status == "partial" and not police.checked
    assert police.detail == "not checked for father (identity mismatch)"
    assert not any(word in police.detail + check.detail for word in ("Derek", "Almond", "1961"))
    shown = next(p for p in picture_context(picture, checkpoint="admission")["people"] if p["role"] == "father")
    assert shown["verified"] is False  # A4 "records checked" is not pre-filled as checked
    assert {"source": SUSPECT, "status": "identity-mismatch", "detail": check.detail} in shown["checks"]


async def test_case_v_language_interpreter_dates_of_birth_and_gestation_are_in_the_picture(sources):
    picture = await picture_of(CASE_V_BABY, sources)
    context = picture_context(picture, checkpoint="admission")

    people = {p["nhsNumber"]: p for p in context["people"]}
    mother, father = people[CASE_V_MOTHER], people[CASE_V_FATHER]
    assert (mother["language"], mother["interpreterRequired"]) == ("Polish", True)
    assert mother["birthDate"] == "1994-03-09" and father["birthDate"] == "1990-10-27"
    assert father["interpreterRequired"] is None  # no source says: unknown, not "not needed"
    assert context["baby"] == {"gestationWeeks": 26, "gestationDays": 0, "preterm": True, "correctedAgeDays": -92}


async def test_alcohol_abuse_by_father_on_the_mothers_record_is_the_fathers(sources):
    picture = await picture_of(CASE_V_BABY, sources)

    alcohol = next(r for r in picture.records if r.code == "722417007")
    assert (alcohol.person_role, alcohol.person_nhs_number) == ("father", CASE_V_FATHER)
    assert alcohol.held_by == "Agnieszka LISOWIEC (mother)"
    mothers = {r.category for r in picture.records if r.person_nhs_number == CASE_V_MOTHER}
    assert "substance-misuse" not in mothers and "domestic-abuse" in mothers


async def test_gestation_term_unknown_and_preterm(sources):
    term, unknown = await picture_of(BORROWED_BABY, sources), await picture_of(NO_CONCERNS_BABY, sources)

    assert picture_context(term, checkpoint="discharge")["baby"]["preterm"] is False  # 39+1
    assert picture_context(unknown, checkpoint="discharge")["baby"] == {
        "gestationWeeks": None,
        "gestationDays": None,
        "preterm": None,  # no source states it: unknown, never "term"
        "correctedAgeDays": None,
    }


# Hostile or careless answers about a household member: never a crash, never "none found".


def mother_as(patient: dict):
    """police-gp answering for Case V's mother with `patient` (and nothing else); everyone else unknown to it."""

    def script(asked: Asked, base: str):
        if asked.path.endswith("/metadata"):
            return 404, {"resourceType": "OperationOutcome", "issue": []}
        if asked.path == "/fhir/Patient" and CASE_V_MOTHER in parse_qs(asked.query).get("identifier", [""])[0]:
            return 200, searchset({"resourceType": "Patient", "id": "pg-x-mother", **patient})
        if asked.path == "/fhir/Flag" and CASE_V_MOTHER in asked.query:
            flag = {"resourceType": "Flag", "id": "pg-x-flag", "status": "active", "code": {"text": "local alert"}}
            return 200, searchset({**flag, "subject": {"reference": "Patient/pg-x-mother"}})
        return 200, searchset()

    return script


MOTHER_ID = [{"system": NHS, "value": CASE_V_MOTHER}]
HOSTILE = {
    "no name and no birthDate": {"identifier": MOTHER_ID},
    "a birthDate that is not a date": {"identifier": MOTHER_ID, "birthDate": "last spring"},
    "a name that is not a name": {"identifier": MOTHER_ID, "name": [{"family": "", "given": [""]}]},
    "a communication without a language": {
        "identifier": MOTHER_ID,
        "name": [{"family": "Lisowiec", "given": ["Agnieszka"]}],
        "communication": [{"preferred": True}],
    },
    "a language with no code or text, and interpreterRequired as a string": {
        "identifier": MOTHER_ID,
        "name": [{"family": "LISOWIEC", "given": ["agnieszka"]}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47"}]}}],
        "extension": [{"url": INTERPRETER_REQUIRED, "valueString": "y"}],
    },
    "someone else under her number": {
        "identifier": MOTHER_ID,
        "name": [{"family": "Kowalska", "given": ["Maria"]}],
        "birthDate": "1970-01-01",
    },
}


@pytest.mark.parametrize("patient", list(HOSTILE.values()), ids=list(HOSTILE))
async def test_a_hostile_answer_about_a_person_is_never_none_found(patient, sources):
    with scripted(mother_as(patient)) as server:
        hostile = SourceSettings(name=SUSPECT, base_url=server.base_url)
        picture = await picture_of(CASE_V_BABY, [s for s in sources if s.name != SUSPECT] + [hostile])

    check = person(picture, "mother").checks[SUSPECT]
    police = next(s for s in picture.sources if s.name == SUSPECT)
    assert check.status != "none-found" and police.status != "none-found"
    mothers = [r for r in picture.records if r.source == SUSPECT]
    if check.status == "found":  # only a Patient whose name agrees with hers: she is who the household means
        assert mothers and police.status == "found"
    else:
        assert mothers == [] and not police.checked
        assert check.status in ("not-checked", "identity-mismatch", "partial")
    context = picture_context(picture, checkpoint="admission")
    assert person(picture, "mother").language in ("Polish", None)  # maternity says Polish; the hostile one nothing
    assert next(p for p in context["people"] if p["role"] == "mother")["interpreterRequired"] is True


def test_names_compare_without_case_diacritics_or_punctuation():
    def who(family, given=None, birth=None):
        return identity_of({"name": [{"family": family, "given": [given] if given else []}], "birthDate": birth})

    assert compare(who("Brzozak", "Paweł"), who("BRZOZAK", "Pawel")) == "match"
    assert compare(who("Smith-Jones", "Zoë"), who("smith jones", "zoe")) == "match"
    assert compare(who("Brzozak"), who("Brzozak", "Filip")) == "match"  # no given name: family name only
    assert compare(who("Brzozak", "Paweł"), who("Brzozak", "Filip")) == "mismatch"
    assert compare(who("Pike", "Jordan", "1993-07-30"), who("Pike", "Jordan", "1961-04-02")) == "mismatch"
    assert compare(who("Pike", "Jordan", "1993-07-30"), identity_of({"birthDate": "1993-07-30"})) == "match"
    assert compare(who("Pike", "Jordan"), identity_of({"birthDate": "not a date"})) == "unverified"
    assert compare(who("Pike", "Jordan"), identity_of({"name": [{"text": "Jordan Pike"}]})) == "match"


GESTATION = frozenset({("http://snomed.info/sct", "412726003"), ("http://loinc.org", "76516-4")})


def gestation_observation(**value) -> dict:
    code = {"coding": [{"system": "http://snomed.info/sct", "code": "412726003"}]}
    return {"resourceType": "Observation", "status": "final", "code": code, **value}


@pytest.mark.parametrize(
    ("observation", "days"),
    [
        (gestation_observation(valueQuantity={"value": 26, "system": UCUM, "code": "wk"}), 182),
        (gestation_observation(valueQuantity={"value": "211", "system": UCUM, "code": "d"}), 211),  # as R4B dumps
        (gestation_observation(valueString="26+0"), None),
        (gestation_observation(valueQuantity={"value": 26, "unit": "weeks"}), None),  # not UCUM
        (gestation_observation(valueQuantity={"value": 6, "system": UCUM, "code": "mo"}), None),
        (gestation_observation(valueQuantity={"value": "NaN", "system": UCUM, "code": "wk"}), None),
        (gestation_observation(valueQuantity={"value": "1e400", "system": UCUM, "code": "wk"}), None),
        (gestation_observation(valueQuantity={"value": True, "system": UCUM, "code": "wk"}), None),
        (gestation_observation(valueQuantity={"value": 4, "system": UCUM, "code": "wk"}), None),  # implausible
        (
            {
                **gestation_observation(valueQuantity={"value": 26, "system": UCUM, "code": "wk"}),
                "status": "entered-in-error",
            },
            None,
        ),
        (
            {
                **gestation_observation(valueQuantity={"value": 26, "system": UCUM, "code": "wk"}),
                "code": {"text": "GA"},
            },
            None,
        ),
    ],
)
def test_gestation_is_read_only_from_the_shape_the_contract_states(observation, days):
    assert gestation_days(observation, GESTATION) == days


def test_sources_that_disagree_about_gestation_leave_it_unknown():
    assert settled([182, 182]) == 182
    assert settled([182, 189]) is None and settled([]) is None


async def test_the_units_record_names_the_baby_whichever_source_is_listed_first(sources):
    def script(asked: Asked, base: str):
        if asked.path == "/fhir/Patient" and CASE_V_BABY in asked.query:
            stranger = {
                "resourceType": "Patient",
                "id": "pg-x-baby",
                "identifier": [{"system": NHS, "value": CASE_V_BABY}],
            }
            return 200, searchset(
                {**stranger, "name": [{"family": "Nowak", "given": ["Ewa"]}], "birthDate": "2026-10-01"}
            )
        return 200, searchset()

    with scripted(script) as server:
        first = SourceSettings(name=SUSPECT, base_url=server.base_url)
        picture = await picture_of(CASE_V_BABY, [first, *(s for s in sources if s.name != SUSPECT)])

    assert picture.baby.name == "Zofia BRZOZAK" and picture.baby_ids["neonatal"] == "nn-casev-baby"
    assert picture.baby.checks[SUSPECT].status == "identity-mismatch" and SUSPECT not in picture.baby_ids
    assert next(s for s in picture.sources if s.name == SUSPECT).status == "partial"
