"""A PDS trace by demographics (app/picture/trace.py), over HTTP: the PDS sandbox for PDS, the CP-IS sandbox for CP-IS
and the sandbox FHIR servers for a family made for each test, whose unit record names a father with no NHS number.
Only one exact match (score 1) under the same name and date of birth gives him a number, for this picture, and then
his records are found; no match, several, too many, a lower score, a restricted or deceased record, another name,
PDS down, no token, a malformed answer, too few demographics: *not checked: not traced*, said, never "none found"."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.picture import PdsAccess, Picture
from app.picture.models import Person
from app.picture.trace import read_trace, trace_params
from sandbox.cpis import CpisSandbox
from sandbox.pds import PDS_TOKEN, PdsSandbox
from testkit.ports import free_port
from tests.factories import create, create_baby, make_flag, make_patient, new_nhs_number
from tests.picture.test_pds import national, picture_of, status_of

ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
MARAC = "758941000000108"  # Subject of multi-agency risk assessment conference (codes.md)
RECORD_SOURCES = ("neonatal", "maternity", "social-care", "police-gp")
BORN = "1991-07-14"


@pytest.fixture(scope="module")
def cpis() -> Iterator[CpisSandbox]:
    with CpisSandbox() as running:
        yield running


def _family_name() -> str:
    return "Tr" + "".join(random.choices(string.ascii_lowercase, k=8))


def a_family(fhir: dict[str, httpx.Client], *, father: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """A new baby whose unit record names a father (FTH) with no NHS number; returns the baby's number and the
    father's demographics as PDS would hold them (name, gender, birthDate)."""
    demographics = father or {"name": [{"family": _family_name(), "given": ["Gareth"]}], "gender": "male"}
    demographics = {"birthDate": BORN, **demographics}
    baby = create_baby(fhir["neonatal"])
    related = {
        "resourceType": "RelatedPerson",
        "id": f"rp-{uuid.uuid4().hex[:12]}",
        "patient": {"reference": f"Patient/nn-test-{baby}"},
        "relationship": [{"coding": [{"system": ROLE_CODES, "code": "FTH"}]}],
        **demographics,
    }
    create(fhir["neonatal"], related)
    return baby, demographics


def his_record(fhir: dict[str, httpx.Client], number: str, demographics: dict[str, Any]) -> None:
    """Police and GP hold him under the number, with a MARAC flag."""
    patient_id = f"pg-test-{number}"
    held = {k: v for k, v in demographics.items() if k != "address"}
    create(fhir["police-gp"], make_patient(patient_id, number, **held), make_flag(patient_id, MARAC))


def father(picture: Picture):
    return next(p for p in picture.people if p.role == "father")


async def traced_picture(baby: str, sources, pds: PdsSandbox, cpis: CpisSandbox, access: PdsAccess | None = None):
    access = PdsAccess(PDS_TOKEN) if access is None else access
    return await picture_of(baby, national(sources, pds=pds.url, cpis=cpis.url), pds=access)


def assert_not_traced(picture: Picture, why: str) -> None:
    dad = father(picture)
    assert dad.nhs_number is None and dad.nhs_number_verified is False
    assert dad.nhs_number_status.startswith("No NHS number: not traced: ") and why in dad.nhs_number_status
    for name in RECORD_SOURCES:
        check = dad.checks[name]
        assert (check.status, check.reason) == ("not-checked", "not traced on PDS")
        assert check.detail.startswith("not checked: not traced: ") and why in check.detail
    assert "not checked for father (not traced on PDS)" in status_of(picture, "police-gp").detail
    line = status_of(picture, "pds")
    assert line.status in ("partial", "unavailable") and not line.checked
    assert "father not traced: " in line.detail and "their records were not checked" in line.detail
    assert not [r for r in picture.records if r.person_role == "father"]


async def test_a_unique_exact_trace_gives_him_a_number_and_his_records_are_found(sources, fhir, cpis):
    baby, dad = a_family(fhir)
    number = new_nhs_number()
    his_record(fhir, number, dad)
    with PdsSandbox(extra_people={number: dad}) as pds:
        picture = await traced_picture(baby, sources, pds, cpis)
        seen = [s for s in pds.seen if s["asked"] == "search"]

    him = father(picture)
    assert him.nhs_number == number and him.verified and him.nhs_number_verified is True
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    assert him.nhs_number_status == (
        f"NHS number {spaced} found by PDS trace (matched on family name, given name, date of birth, gender)"
    )
    assert him.checks["police-gp"].status == "found"
    (marac,) = [r for r in picture.records if r.person_nhs_number == number]
    assert (marac.code, marac.source, marac.person_role) == (MARAC, "police-gp", "father")
    assert him.checks["maternity"].status == "not-known"  # asked under the traced number, holds nobody
    line = status_of(picture, "pds")
    assert f"father: NHS number {spaced} found by PDS trace" in line.detail
    (search,) = seen
    assert dict(search["params"]) == {
        "family": dad["name"][0]["family"],
        "given": "Gareth",
        "birthdate": f"eq{BORN}",
        "gender": "male",
        "_exact-match": "true",
        "_fuzzy-match": "false",
        "_max-results": "2",
    }
    assert uuid.UUID(search["request_id"])


async def test_the_trace_sends_the_postcode_and_the_ods_code_and_is_audited(sources, fhir, cpis):
    address = [{"use": "home", "postalCode": "LS11 6AD"}]
    baby, dad = a_family(fhir, father={"name": [{"family": _family_name(), "given": ["Dale"]}], "address": address})
    number = new_nhs_number()
    access = PdsAccess(PDS_TOKEN)
    with PdsSandbox(extra_people={number: dad}) as pds:
        picture = await picture_of(
            baby, national(sources, pds=pds.url, cpis=cpis.url, end_user_ods="RXX01"), pds=access
        )
        (search,) = [s for s in pds.seen if s["asked"] == "search"]

    assert dict(search["params"])["address-postalcode"] == "LS11 6AD" and "gender" not in dict(search["params"])
    assert search["ods"] == "RXX01"
    assert ("father (trace)", search["request_id"]) in access.sent
    assert father(picture).nhs_number == number
    assert "matched on family name, given name, date of birth, postcode" in father(picture).nhs_number_status


async def test_no_match_is_not_traced(sources, fhir, cpis):
    baby, _ = a_family(fhir)
    with PdsSandbox() as pds:
        picture = await traced_picture(baby, sources, pds, cpis)

    assert_not_traced(picture, "PDS found no exact match")


async def test_two_matches_are_not_traced_and_three_are_too_many(sources, fhir, cpis):
    baby, dad = a_family(fhir)
    two = {new_nhs_number(): dad for _ in range(2)}
    with PdsSandbox(extra_people=two) as pds:
        several = await traced_picture(baby, sources, pds, cpis)
    with PdsSandbox(extra_people={**two, new_nhs_number(): dad}) as pds:
        many = await traced_picture(baby, sources, pds, cpis)

    assert_not_traced(several, "PDS found more than one person")
    assert_not_traced(many, "PDS found too many people")


async def test_a_score_below_1_is_not_traced_even_if_pds_sends_it_for_an_exact_match(sources, fhir, cpis):
    baby, dad = a_family(fhir)
    number = new_nhs_number()
    his_record(fhir, number, dad)
    with PdsSandbox(extra_people={number: dad}, scores={number: 0.9}) as pds:
        picture = await traced_picture(baby, sources, pds, cpis)

    assert_not_traced(picture, "its score is below 1")


@pytest.mark.parametrize(
    ("held", "why"),
    [
        ({"deceasedDateTime": "2020-01-01T00:00:00+00:00"}, "recorded as deceased"),
        ({"gender": "female"}, "no exact match"),  # the sandbox matches on gender, as PDS does
    ],
    ids=["deceased", "another gender"],
)
async def test_a_match_pds_holds_differently_is_not_traced(sources, fhir, cpis, held, why):
    baby, dad = a_family(fhir)
    number = new_nhs_number()
    with PdsSandbox(extra_people={number: {**dad, **held}}) as pds:
        picture = await traced_picture(baby, sources, pds, cpis)

    assert_not_traced(picture, why)


async def test_a_restricted_record_is_not_traced(sources, fhir, cpis):
    baby, dad = a_family(fhir)
    number = new_nhs_number()
    with PdsSandbox(extra_people={number: dad}, restricted=frozenset({number})) as pds:
        picture = await traced_picture(baby, sources, pds, cpis)

    assert_not_traced(picture, "a restricted record")


async def test_a_match_with_the_number_of_someone_in_the_household_is_not_traced(sources, fhir, cpis):
    baby, dad = a_family(fhir)
    with PdsSandbox(extra_people={baby: dad}) as pds:  # PDS gives him the baby's number
        picture = await traced_picture(baby, sources, pds, cpis)

    assert_not_traced(picture, "the NHS number of someone else in the household")


@pytest.mark.parametrize("why", ["down", "refused", "no token", "malformed"])
async def test_pds_not_answering_is_not_traced_and_said(sources, fhir, cpis, why):
    baby, dad = a_family(fhir)
    number = new_nhs_number()
    his_record(fhir, number, dad)
    broken = frozenset({number}) if why == "malformed" else frozenset()
    with PdsSandbox(extra_people={number: dad}, malformed=broken) as pds:
        url = f"http://127.0.0.1:{free_port()}" if why == "down" else pds.url
        token = {"refused": "not-a-cis2-token", "no token": None}.get(why, PDS_TOKEN)
        picture = await picture_of(baby, national(sources, pds=url, cpis=cpis.url), pds=PdsAccess(token))
        searched = [s for s in pds.seen if s["asked"] == "search"]

    expected = {
        "down": "PDS could not connect",
        "refused": "PDS HTTP 401",
        "no token": "needs the clinician's NHS Care Identity sign-in",
        "malformed": "PDS search answered in a shape NeoSafe could not read",
    }
    assert_not_traced(picture, expected[why])
    if why == "no token":
        assert searched == []  # PDS is not called without the clinician's token


async def test_too_few_demographics_are_not_traced_and_pds_is_not_asked(sources, fhir, cpis):
    baby, _ = a_family(fhir, father={"name": [{"family": _family_name()}], "birthDate": "1991"})
    with PdsSandbox() as pds:
        picture = await traced_picture(baby, sources, pds, cpis)
        searched = [s for s in pds.seen if s["asked"] == "search"]

    assert searched == []
    assert_not_traced(picture, "do not give their given name, date of birth")


async def test_without_a_pds_source_nobody_is_traced_and_nothing_changes(sources, fhir, cpis):
    baby, _ = a_family(fhir)
    picture = await picture_of(baby, national(sources, pds=None, cpis=cpis.url), pds=None)

    dad = father(picture)
    assert dad.nhs_number is None and dad.not_traced is None and dad.nhs_number_status is None
    assert dad.checks["police-gp"].reason == "no NHS number"


def test_the_trace_asks_only_on_enough_demographics():
    enough = {"family": "Pennock", "given": "Gareth", "birthdate": BORN}
    assert trace_params(enough) == {
        "family": "Pennock",
        "given": "Gareth",
        "birthdate": f"eq{BORN}",
        "_exact-match": "true",
        "_fuzzy-match": "false",
        "_max-results": "2",
    }
    for missing in enough:
        assert trace_params({k: v for k, v in enough.items() if k != missing}) is None
    assert "gender" not in trace_params({**enough, "gender": "sometimes"})


def test_the_sandbox_refuses_what_pds_refuses():
    with PdsSandbox() as pds:
        headers = {"Authorization": f"Bearer {PDS_TOKEN}", "X-Request-ID": str(uuid.uuid4())}
        unknown = httpx.get(
            f"{pds.url}/Patient", params={"family": "X", "birthdate": "eq1990-01-01", "nhs": "1"}, headers=headers
        )
        too_few = httpx.get(f"{pds.url}/Patient", params={"family": "X"}, headers=headers)
        no_id = httpx.get(
            f"{pds.url}/Patient",
            params={"family": "X", "birthdate": "eq1990-01-01"},
            headers={"Authorization": f"Bearer {PDS_TOKEN}"},
        )
        no_token = httpx.get(f"{pds.url}/Patient", params={"family": "X", "birthdate": "eq1990-01-01"})

    assert unknown.status_code == 400 and "ADDITIONAL_PROPERTIES" in unknown.text
    assert too_few.status_code == 400 and "INVALID_SEARCH_DATA" in too_few.text
    assert (no_id.status_code, no_token.status_code) == (400, 401)


def _pds_patient(number: str, status: str = "01", **overrides: Any) -> dict[str, Any]:
    extension = {
        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
        "valueCodeableConcept": {
            "coding": [
                {
                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
                    "code": status,
                }
            ]
        },
    }
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number, "extension": [extension]}],
        "name": [{"family": "Pennock", "given": ["Gareth"]}],
        "gender": "male",
        "birthDate": BORN,
        **overrides,
    }


@pytest.mark.parametrize(
    ("patient", "score", "why"),
    [
        ({"birthDate": "1991-07-15"}, 1, "under another name or date of birth"),
        ({"name": [{"family": "Pennock", "given": ["Gary"]}]}, 1, "under another name or date of birth"),
        ({"name": [{"family": "Pennock"}]}, 1, "under another name or date of birth"),  # no given name to agree
        ({"gender": "female"}, 1, "another gender"),
        ({"number": "9990000000"}, 1, "no valid NHS number"),  # a check digit that fails
        ({"status": "05"}, 1, "has not verified (status 05)"),
        ({}, "1", "score is below 1"),  # a score that is not a number
        ({}, True, "score is below 1"),
    ],
    ids=["birth date", "given name", "no given name", "gender", "check digit", "status 05", "text score", "bool"],
)
def test_neosafe_checks_the_one_exact_match_itself(patient, score, why):
    number = patient.pop("number", new_nhs_number())
    held = _pds_patient(number, patient.pop("status", "01"), **patient)
    person = Person(role="father", role_label="Father", name="Gareth PENNOCK", nhs_number=None)
    person.demographics = {"family": "Pennock", "given": "Gareth", "birthdate": BORN, "gender": "male"}

    traced = read_trace([(held, score)], person, set())

    assert traced.number is None and why in traced.why
    good = new_nhs_number()  # and the same answer, put right, is traced
    assert read_trace([(_pds_patient(good), 1.0)], person, set()).number == good
    assert read_trace([(_pds_patient(good), 1.0)], person, {good}).number is None  # someone else's number
