"""PDS verification in the picture (profile "pds"), over HTTP: the PDS sandbox for PDS, the CP-IS sandbox for CP-IS and
the sandbox FHIR servers for the family. A household member whose NHS number PDS does not verify reads *identity not
verified — records not checked* on every record source and nothing is attributed to them; an 08 baby under six weeks
is still asked, the status shown; PDS down, refusing the token or with no token at all: not checked, said, the record
sources still asked and CP-IS not; a malformed answer; a Patient under another number or another name; the headers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import ConfigError, SourceSettings, load_sources
from app.picture import CpisAccess, PdsAccess, Picture
from app.picture.checks import NOT_VERIFIED
from app.picture.pds import POSTPONED
from app.sources import FhirClient, new_request_id, pds_related_people
from sandbox.cpis import CPIS_TOKEN, CpisSandbox
from sandbox.pds import PDS_TOKEN, PdsSandbox
from testkit.ports import free_port
from tests.families import (
    ACTIVE_CP_BABY,
    ACTIVE_CP_MOTHER,
    ACTIVE_CP_PARTNER,
    NO_CONCERNS_BABY,
    SOURCE_DOWN_MOTHER,
)
from tests.picture.test_cpis import gathered

RECORD_SOURCES = ("neonatal", "maternity", "social-care", "police-gp", "cpis")
NO_CONCERNS_MOTHER = "9990202001"


@pytest.fixture(scope="module")
def pds() -> Iterator[PdsSandbox]:
    with PdsSandbox() as running:
        yield running


@pytest.fixture(scope="module")
def cpis() -> Iterator[CpisSandbox]:
    with CpisSandbox() as running:
        yield running


def pds_source(url: str, **settings) -> SourceSettings:
    return SourceSettings(name="pds", base_url=url, timeout_s=30, profile="pds", **settings)


def national(sources: list[SourceSettings], *, pds: str | None, cpis: str, **pds_settings) -> list[SourceSettings]:
    """The sandbox's sources with CP-IS asked in its own shape at `cpis` and, given `pds`, PDS verifying at it."""
    cpis_source = SourceSettings(name="cpis", base_url=cpis, timeout_s=30, profile="cpis")
    with_pds = [pds_source(pds, **pds_settings)] if pds else []
    return [s for s in sources if s.name != "cpis"] + [cpis_source, *with_pds]


async def picture_of(
    nhs_number: str, sources: list[SourceSettings], *, pds: PdsAccess | None, token: str | None = CPIS_TOKEN
) -> Picture:
    return await gathered(
        nhs_number, sources, cpis={"cpis": CpisAccess(token=token)}, pds={"pds": pds} if pds is not None else None
    )


def person(picture: Picture, nhs_number: str):
    return next(p for p in picture.people if p.nhs_number == nhs_number)


def status_of(picture: Picture, name: str):
    return next(s for s in picture.sources if s.name == name)


def cpis_asked(cpis: CpisSandbox, before: int) -> list[str]:
    return sorted(s["nhs_number"] for s in cpis.seen[before:])


async def test_an_unverified_partner_is_records_not_checked_on_every_source_and_nothing_is_his(sources, pds, cpis):
    without = await picture_of(ACTIVE_CP_BABY, national(sources, pds=None, cpis=cpis.url), pds=None)
    assert any(r.person_nhs_number == ACTIVE_CP_PARTNER for r in without.records)  # his MARAC flag, without PDS

    picture = await picture_of(ACTIVE_CP_BABY, national(sources, pds=pds.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN))

    partner = person(picture, ACTIVE_CP_PARTNER)
    assert not [r for r in picture.records if r.person_nhs_number == ACTIVE_CP_PARTNER]
    assert {name: c.status for name, c in partner.checks.items() if name in RECORD_SOURCES} == {
        "neonatal": "not-checked",
        "maternity": "not-checked",
        "social-care": "not-checked",
        "police-gp": "not-checked",
    }  # CP-IS asks about the baby and the mother only, as before
    assert all(c.detail.startswith(NOT_VERIFIED) for n, c in partner.checks.items() if n in RECORD_SOURCES)
    assert "PDS status 05" in partner.checks["police-gp"].detail
    assert partner.verified is False and partner.nhs_number_verified is False
    assert partner.nhs_number_status.startswith("NHS number not verified on PDS: PDS status 05")
    police = status_of(picture, "police-gp")
    assert police.status == "partial"
    assert "not checked for partner or male carer (identity not verified on PDS)" in police.detail
    line = status_of(picture, "pds")
    assert (line.status, line.checked) == ("partial", False)
    assert "not verified for partner or male carer (PDS status 05" in line.detail
    assert "their records were not checked" in line.detail
    baby, mother = picture.baby, person(picture, ACTIVE_CP_MOTHER)
    assert (baby.nhs_number_status, mother.nhs_number_status) == ("NHS number verified on PDS",) * 2
    assert baby.checks["cpis"].status == "found" and mother.checks["cpis"].status == "found"


async def test_a_baby_under_six_weeks_with_status_08_is_still_asked_with_the_status_shown(sources, pds, cpis):
    before = len(cpis.seen)
    picture = await picture_of(
        NO_CONCERNS_BABY, national(sources, pds=pds.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
    )

    baby = picture.baby
    assert baby.nhs_number_status == f"{POSTPONED} (PDS status 08)"
    assert baby.verified and baby.nhs_number_verified is True
    assert baby.checks["neonatal"].status == "none-found" and baby.checks["cpis"].status == "none-found"
    assert NO_CONCERNS_BABY in cpis_asked(cpis, before)  # asked, as the spec allows for a newborn
    line = status_of(picture, "pds")
    assert line.status == "none-found" and f"baby: {POSTPONED} (PDS status 08)" in line.detail


async def test_status_08_for_someone_not_under_six_weeks_is_not_verified(sources, cpis):
    with PdsSandbox(statuses={NO_CONCERNS_MOTHER: "08"}) as odd:
        picture = await picture_of(
            NO_CONCERNS_BABY, national(sources, pds=odd.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    mother = person(picture, NO_CONCERNS_MOTHER)
    assert mother.nhs_number_verified is False and "not under six weeks" in mother.nhs_number_status
    assert mother.checks["maternity"].status == "not-checked"


@pytest.mark.parametrize("why", ["down", "refused", "no token", "no access"])
async def test_pds_not_checked_is_said_the_record_sources_are_still_asked_and_cp_is_is_not(sources, pds, cpis, why):
    url = f"http://127.0.0.1:{free_port()}" if why == "down" else pds.url
    access = {"down": PdsAccess(PDS_TOKEN), "refused": PdsAccess("not-a-cis2-token"), "no token": PdsAccess(None)}
    before_pds, before_cpis = len(pds.seen), len(cpis.seen)
    picture = await picture_of(ACTIVE_CP_BABY, national(sources, pds=url, cpis=cpis.url), pds=access.get(why))

    line = status_of(picture, "pds")
    assert (line.status, line.checked) == ("unavailable", False)
    assert line.detail.startswith("not checked: ") and "the record sources were still asked" in line.detail
    assert "CP-IS was not" in line.detail
    if why in ("no token", "no access"):
        assert "needs the clinician's NHS Care Identity sign-in" in line.detail
        assert len(pds.seen) == before_pds  # PDS is not called without the clinician's token
    if why == "refused":
        assert "HTTP 401" in line.detail
    assert person(picture, ACTIVE_CP_PARTNER).checks["police-gp"].status == "found"  # asked, as without PDS
    assert all(p.nhs_number_verified is None for p in picture.people if p.nhs_number_status)
    assert picture.baby.nhs_number_status.startswith("NHS number verification not checked")
    assert cpis_asked(cpis, before_cpis) == []  # CP-IS needs a PDS-verified number
    cp_is = status_of(picture, "cpis")
    assert cp_is.status == "unavailable" and "asked only about a PDS-verified number" in cp_is.detail
    assert not [r for r in picture.records if r.source == "cpis"]


async def test_a_malformed_answer_is_not_checked_and_nothing_leaks_to_the_log(sources, cpis, caplog):
    with PdsSandbox(malformed=frozenset({ACTIVE_CP_MOTHER})) as broken:
        picture = await picture_of(
            ACTIVE_CP_BABY, national(sources, pds=broken.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    assert ACTIVE_CP_MOTHER not in caplog.text and PDS_TOKEN not in caplog.text
    mother = person(picture, ACTIVE_CP_MOTHER)
    assert mother.nhs_number_verified is None and "verification not checked" in mother.nhs_number_status
    assert mother.checks["maternity"].status == "found"  # still asked
    assert mother.checks["cpis"].status == "not-checked"  # CP-IS is not
    assert status_of(picture, "pds").status == "partial"  # the baby and the partner were answered


async def test_a_patient_under_another_nhs_number_is_not_verified_and_cp_is_is_not_asked(sources, cpis):
    before = len(cpis.seen)
    with PdsSandbox(moved={ACTIVE_CP_MOTHER: NO_CONCERNS_MOTHER}) as superseded:
        picture = await picture_of(
            ACTIVE_CP_BABY, national(sources, pds=superseded.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    mother = person(picture, ACTIVE_CP_MOTHER)
    assert "the record of another NHS number" in mother.nhs_number_status and not mother.verified
    assert not [r for r in picture.records if r.person_nhs_number == ACTIVE_CP_MOTHER]
    assert {mother.checks[n].status for n in ("maternity", "social-care", "police-gp", "cpis")} == {"not-checked"}
    assert ACTIVE_CP_MOTHER not in cpis_asked(cpis, before)


async def test_a_different_person_under_the_number_on_pds_is_not_verified(sources, cpis):
    stranger = {"name": [{"family": "Almond", "given": ["Derek"]}], "gender": "male", "birthDate": "1961-04-02"}
    with PdsSandbox(extra_people={SOURCE_DOWN_MOTHER: stranger, ACTIVE_CP_MOTHER: stranger}) as other:
        picture = await picture_of(
            ACTIVE_CP_BABY, national(sources, pds=other.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    mother = person(picture, ACTIVE_CP_MOTHER)
    assert "another name or date of birth" in mother.nhs_number_status
    assert mother.checks["maternity"].detail.startswith(NOT_VERIFIED)
    assert not [r for r in picture.records if r.person_nhs_number == ACTIVE_CP_MOTHER]


async def test_a_newborn_pds_holds_as_baby_before_naming_is_verified_on_family_name_and_date_of_birth(sources, cpis):
    unnamed = {"name": [{"family": "Dunmore", "given": ["Baby"]}], "gender": "male", "birthDate": "2026-11-18"}
    with PdsSandbox(extra_people={ACTIVE_CP_BABY: unnamed}, statuses={}) as births:
        picture = await picture_of(
            ACTIVE_CP_BABY, national(sources, pds=births.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    assert picture.baby.nhs_number_verified is True and picture.baby.checks["social-care"].status == "found"


async def test_a_baby_whose_number_pds_does_not_verify_has_nothing_attributed_and_cp_is_is_not_asked(sources, cpis):
    before = len(cpis.seen)
    with PdsSandbox(statuses={ACTIVE_CP_BABY: "03"}) as odd:
        picture = await picture_of(
            ACTIVE_CP_BABY, national(sources, pds=odd.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    assert picture.baby.name == "Mason DUNMORE" and not picture.baby.verified  # the unit's record still names him
    assert not [r for r in picture.records if r.person_nhs_number == ACTIVE_CP_BABY]
    assert {c.status for n, c in picture.baby.checks.items() if n in RECORD_SOURCES} == {"not-checked"}
    assert ACTIVE_CP_BABY not in cpis_asked(cpis, before)
    mother = person(picture, ACTIVE_CP_MOTHER)  # the household, from the unit's record, each verified on their own
    assert mother.nhs_number_verified is True and mother.checks["maternity"].status == "found"


async def test_the_headers_are_a_fresh_request_id_each_and_the_ods_code_where_configured(sources, pds, cpis):
    before = len(pds.seen)
    access = PdsAccess(PDS_TOKEN)
    await picture_of(ACTIVE_CP_BABY, national(sources, pds=pds.url, cpis=cpis.url, end_user_ods="RXX01"), pds=access)

    seen = pds.seen[before:]
    patients = sorted(s["nhs_number"] for s in seen if s["asked"] == "Patient")
    assert patients == sorted([ACTIVE_CP_BABY, ACTIVE_CP_MOTHER, ACTIVE_CP_PARTNER])
    assert [s["nhs_number"] for s in seen if s["asked"] == "RelatedPerson"] == [ACTIVE_CP_BABY]  # the baby's mother
    assert {s["ods"] for s in seen} == {"RXX01"}
    assert len({s["request_id"] for s in seen}) == len(seen)
    assert all(uuid.UUID(s["request_id"]) for s in seen)
    assert sorted(s["request_id"] for s in seen) == sorted(request_id for _, request_id in access.sent)
    assert sorted(role for role, _ in access.sent) == ["baby", "baby (related people)", "mother", "partner"]

    before = len(pds.seen)
    await picture_of(ACTIVE_CP_BABY, national(sources, pds=pds.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN))
    assert {s["ods"] for s in pds.seen[before:]} == {None}  # not configured: not sent


async def test_a_mother_on_pds_other_than_the_households_is_said_and_a_restricted_record_says_nothing(sources, cpis):
    stranger = {ACTIVE_CP_BABY: [NO_CONCERNS_MOTHER]}
    with PdsSandbox(extra_mothers=stranger, restricted=frozenset({NO_CONCERNS_BABY}), statuses={}) as odd:
        mixed = await picture_of(
            ACTIVE_CP_BABY, national(sources, pds=odd.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )
        hidden = await picture_of(
            NO_CONCERNS_BABY, national(sources, pds=odd.url, cpis=cpis.url), pds=PdsAccess(PDS_TOKEN)
        )

    line = status_of(mixed, "pds")
    assert line.status == "partial"
    assert "PDS records the baby's mother under another NHS number than the household's" in line.detail
    assert person(mixed, ACTIVE_CP_MOTHER).nhs_number_verified is True  # her own number is still verified
    quiet = status_of(hidden, "pds")  # an empty Bundle: no mother to compare, so nothing is said
    assert quiet.status == "none-found" and "PDS records the baby's mother" not in quiet.detail


async def test_with_no_pds_source_nothing_changes(sources, cpis):
    picture = await picture_of(ACTIVE_CP_BABY, national(sources, pds=None, cpis=cpis.url), pds=None)

    assert "pds" not in {s.name for s in picture.sources}  # not "not connected" either: a unit need not have one
    assert all(p.nhs_number_status is None and "pds" not in p.checks for p in picture.people)
    assert person(picture, ACTIVE_CP_PARTNER).checks["police-gp"].status == "found"


async def test_related_people_give_the_mother_and_nothing_for_a_restricted_patient():
    with PdsSandbox(restricted=frozenset({NO_CONCERNS_BABY})) as running:
        async with FhirClient(pds_source(running.url)) as client:
            mothers = await pds_related_people(client, ACTIVE_CP_BABY, token=PDS_TOKEN, request_id=new_request_id())
            hidden = await pds_related_people(client, NO_CONCERNS_BABY, token=PDS_TOKEN, request_id=new_request_id())

    (mother,) = [r.model_dump(mode="json") for r in mothers.resources]
    assert mother["patient"]["identifier"]["value"] == ACTIVE_CP_MOTHER
    assert mother["relationship"][0]["coding"][0]["code"] == "MTH"
    assert hidden.resources == [] and not hidden.problems


def _sources_file(tmp_path: Path, pds_table: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[sources.neonatal]\nbase_url = "http://127.0.0.1:1/fhir"\nwrite_back = true\n\n[sources.pds]\n{pds_table}\n',
        encoding="utf-8",
    )
    return path


def test_a_pds_source_is_configured_with_its_ods_code(tmp_path):
    table = 'profile = "pds"\nbase_url = "https://api.service.nhs.uk/personal-demographics/FHIR/R4"\n'
    pds = next(s for s in load_sources(_sources_file(tmp_path, table + 'end_user_ods = "RXX01"')) if s.name == "pds")

    assert (pds.profile, pds.end_user_ods, pds.write_back) == ("pds", "RXX01", False)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'profile = "pds"\nbase_url = "https://x.example/fhir"\nauth = { type = "bearer", token_env = "T" }',
            "user-restricted",
        ),
        ('profile = "pds"\nbase_url = "http://pds.example.nhs.uk/fhir"', "its base_url must be https"),
        ('profile = "pds"\nbase_url = "https://x.example/fhir"\nwrite_back = true', "cannot be the write_back"),
        ('base_url = "https://x.example/fhir"\nend_user_ods = "RXX01"', "for a pds source"),
        ('profile = "pds"\nbase_url = "https://x.example/fhir"\nend_user_ods = "r x"', "end_user_ods"),
    ],
    ids=["application credentials", "plain http", "written to", "ods on a fhir source", "ods not a code"],
)
def test_a_wrong_pds_source_is_a_clear_config_error(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        load_sources(_sources_file(tmp_path, table))


def test_a_second_source_with_the_pds_profile_is_a_clear_config_error(tmp_path):
    """One PDS is asked: a second source with its profile would be silently left unasked."""
    path = _sources_file(tmp_path, 'profile = "pds"\nbase_url = "https://pds.example.nhs.uk/FHIR/R4"')
    path.write_text(
        path.read_text() + '\n[sources.maternity]\nprofile = "pds"\nbase_url = "https://pds2.example.nhs.uk/FHIR/R4"\n'
    )

    with pytest.raises(ConfigError, match=r"profile 'pds' is on 2 sources \(\['pds', 'maternity'\]\); one only"):
        load_sources(path)
