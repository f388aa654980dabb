"""The Patient Flags API asked in its own shape (profile "patient-flags"), over HTTP: the Patient Flags sandbox for the
flags, the sandbox FHIR servers for the family. An FGM-IS flag on a baby girl's sister and on the baby herself, whom
the API is asked about, a reasonable-adjustment flag in the summary's quiet section, none found, the API down or
refusing the token, no user token at all (not checked, never "none found"), the headers sent, answers NeoSafe cannot
trust, and the configuration that refuses a careless sources file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from app.checkpoints.severity import load_severity
from app.checkpoints.summary import summarise
from app.config import PROJECT_ROOT, ConfigError, SourceSettings, load_sources
from app.picture import NEEDS_SIGN_IN, FlagsAccess, Picture, gather_picture, load_mappings
from app.picture.mappings import FlagsRules
from app.sources import FhirClient
from sandbox.flags import FLAGS_TOKEN, FlagsSandbox, flag
from testkit.ports import free_port
from tests.families import (
    ACTIVE_CP_BABY,
    ACTIVE_CP_MOTHER,
    FGM_IS_BABY,
    FGM_IS_MOTHER,
    FGM_IS_SISTER,
    NO_CONCERNS_BABY,
)
from tests.picture.test_cpis import MAPPINGS, NOW, gathered

SCT = "http://snomed.info/sct"
FGM_IS = "902961000000107"  # Family history of female genital mutilation: the FGM-IS flag's code
FGM_IS_CODE = {"coding": [{"system": SCT, "code": FGM_IS, "display": "Family history of female genital mutilation"}]}


@pytest.fixture(scope="module")
def flags() -> Iterator[FlagsSandbox]:
    with FlagsSandbox() as running:
        yield running


def flags_source(url: str, **settings) -> SourceSettings:
    return SourceSettings(name="patient-flags", base_url=url, timeout_s=30, profile="patient-flags", **settings)


async def picture_of(nhs_number: str, sources: list[SourceSettings], url: str, access: FlagsAccess | None) -> Picture:
    """The sandbox's sources and the Patient Flags API at `url`, gathered as the service does it."""
    return await gathered(
        nhs_number, [*sources, flags_source(url)], flags={"patient-flags": access} if access is not None else None
    )


def flags_status(picture: Picture):
    return next(s for s in picture.sources if s.name == "patient-flags")


def checks(picture: Picture) -> dict[str, str]:
    return {p.nhs_number: p.checks["patient-flags"].status for p in picture.people if "patient-flags" in p.checks}


def from_flags(picture: Picture) -> list:
    return [r for r in picture.records if r.source == "patient-flags"]


async def test_an_fgm_is_flag_on_the_baby_girls_sister_is_in_the_picture_as_a_safeguarding_record(sources, flags):
    before = len(flags.seen)
    picture = await picture_of(FGM_IS_BABY, sources, flags.url, FlagsAccess(token=FLAGS_TOKEN))

    (fgm_is,) = [r for r in from_flags(picture) if r.category == "fgm-is"]
    assert (fgm_is.person_nhs_number, fgm_is.person_role, fgm_is.person_name) == (
        FGM_IS_SISTER,
        "sibling",
        "Ilhan HASSAN",
    )
    assert (fgm_is.code, fgm_is.system, fgm_is.risk, fgm_is.current, fgm_is.start) == (
        FGM_IS,
        SCT,
        True,
        True,
        "2024-03-04",
    )
    assert (fgm_is.resource_type, fgm_is.key) == ("Flag", "patient-flags/Flag/flags-fgmis-sister")
    # the baby, the mother and the sister are asked; each by her bare NHS number, with a fresh X-Request-ID
    seen = flags.seen[before:]
    assert sorted(s["nhs_number"] for s in seen) == sorted([FGM_IS_BABY, FGM_IS_MOTHER, FGM_IS_SISTER])
    assert len({s["request_id"] for s in seen}) == 3 and all(uuid.UUID(s["request_id"]) for s in seen)
    assert checks(picture) == {FGM_IS_BABY: "none-found", FGM_IS_MOTHER: "found", FGM_IS_SISTER: "found"}
    assert flags_status(picture).status == "found"
    assert "asked about the baby, the mother and each sibling" in flags_status(picture).detail
    # and the maternity record's FGM flag on the mother is in the picture too: what opens the discharge question
    assert any(r.category == "fgm" and r.person_role == "mother" and r.source == "maternity" for r in picture.records)


async def test_an_fgm_is_flag_on_the_baby_girl_herself_is_in_the_picture(sources):
    own = flag("flags-fgmis-baby", FGM_IS_BABY, "FGM", code=FGM_IS_CODE, start="2026-11-24")
    with FlagsSandbox(extra_flags={FGM_IS_BABY: [own]}) as flagged:
        picture = await picture_of(FGM_IS_BABY, sources, flagged.url, FlagsAccess(token=FLAGS_TOKEN))

    on_baby = [r for r in from_flags(picture) if r.category == "fgm-is" and r.person_role == "baby"]
    assert [(r.person_nhs_number, r.person_name, r.current) for r in on_baby] == [(FGM_IS_BABY, "Safiya HASSAN", True)]
    assert picture.baby.checks["patient-flags"].status == "found"


async def test_the_fgm_is_flag_is_a_serious_item_and_the_reasonable_adjustment_goes_in_the_quiet_section(
    sources, flags
):
    picture = await picture_of(FGM_IS_BABY, sources, flags.url, FlagsAccess(token=FLAGS_TOKEN))
    summary = summarise(
        picture, load_severity(PROJECT_ROOT / "fhir_mappings"), labels=MAPPINGS.source_labels, today=NOW.date()
    )

    serious = {category for key, _, groups in summary.tiers if key == "serious" for category, _ in groups}
    assert "FGM-IS: family history of female genital mutilation" in serious
    assert [(c.what, c.about) for c in summary.administrative] == [
        ("Needs a longer appointment and information in plain English", "Hodan HASSAN, mother")
    ]
    adjustment = next(r for r in from_flags(picture) if r.category == "reasonable-adjustment")
    assert adjustment.risk is False  # administrative: never counted as a concern


async def test_the_father_and_partners_are_not_asked_and_a_cp_is_flag_reads_as_child_protection(sources, flags):
    before = len(flags.seen)
    picture = await picture_of(ACTIVE_CP_BABY, sources, flags.url, FlagsAccess(token=FLAGS_TOKEN))

    assert sorted(s["nhs_number"] for s in flags.seen[before:]) == sorted([ACTIVE_CP_BABY, ACTIVE_CP_MOTHER])
    partner = next(p for p in picture.people if p.role == "partner")
    assert "patient-flags" not in partner.checks
    (cp,) = from_flags(picture)
    assert (cp.category, cp.person_role, cp.code) == ("child-protection", "baby", "224353004")


async def test_nothing_held_is_none_found_for_each_person_asked(sources, flags):
    picture = await picture_of(NO_CONCERNS_BABY, sources, flags.url, FlagsAccess(token=FLAGS_TOKEN))

    assert not from_flags(picture)
    assert set(checks(picture).values()) == {"none-found"}
    assert flags_status(picture).status == "none-found"


async def test_the_api_down_reads_unavailable_never_none_found(sources):
    closed = f"http://127.0.0.1:{free_port()}"
    picture = await picture_of(FGM_IS_BABY, sources, closed, FlagsAccess(token=FLAGS_TOKEN))

    assert flags_status(picture).status == "unavailable"
    assert set(checks(picture).values()) == {"unavailable"}
    assert not from_flags(picture)


async def test_a_token_the_api_refuses_reads_unavailable(sources, flags):
    picture = await picture_of(FGM_IS_BABY, sources, flags.url, FlagsAccess(token="not-a-cis2-token"))

    status = flags_status(picture)
    assert (status.status, status.detail.startswith("HTTP 401")) == ("unavailable", True)
    assert not from_flags(picture)


@pytest.mark.parametrize("access", [None, FlagsAccess(token=None)], ids=["no access", "no token"])
async def test_no_user_token_is_not_checked_and_the_api_is_not_called(sources, flags, access):
    before = len(flags.seen)
    picture = await picture_of(FGM_IS_BABY, sources, flags.url, access)

    status = flags_status(picture)
    assert (status.status, status.detail, status.checked) == ("unavailable", f"not checked: {NEEDS_SIGN_IN}", False)
    sister = next(p for p in picture.people if p.nhs_number == FGM_IS_SISTER)
    assert (sister.checks["patient-flags"].status, sister.checks["patient-flags"].detail) == (
        "not-checked",
        f"not checked: {NEEDS_SIGN_IN}",
    )
    assert len(flags.seen) == before  # nothing asked without the clinician's token


async def test_the_requests_carry_the_token_and_their_ids_for_the_audit(sources, flags):
    before = len(flags.seen)
    access = FlagsAccess(token=FLAGS_TOKEN)
    await picture_of(FGM_IS_BABY, sources, flags.url, access)

    seen = flags.seen[before:]
    assert sorted(s["request_id"] for s in seen) == sorted(request_id for _, request_id in access.sent)
    assert sorted(role for role, _ in access.sent) == ["baby", "mother", "sibling"]
    assert {tuple(s["codes"]) for s in seen} == {()}  # patient-flags.toml asks for every flag: no code=


@pytest.mark.parametrize("who", [FGM_IS_SISTER, FGM_IS_BABY], ids=["the sister's answer", "the baby's answer"])
async def test_a_malformed_bundle_reads_unavailable_and_the_picture_stands(sources, caplog, who):
    with FlagsSandbox(malformed=frozenset({who})) as broken:
        picture = await picture_of(FGM_IS_BABY, sources, broken.url, FlagsAccess(token=FLAGS_TOKEN))

    assert who not in caplog.text and FLAGS_TOKEN not in caplog.text  # no patient data, no token logged
    assert checks(picture)[who] == "unavailable"
    assert flags_status(picture).status == "unavailable"
    assert picture.baby.nhs_number == FGM_IS_BABY and picture.records  # the other sources are still read
    if who == FGM_IS_SISTER:  # never "none found" for her: her FGM-IS flag could not be read
        assert not [r for r in from_flags(picture) if r.category == "fgm-is"]


async def test_a_flag_about_another_nhs_number_is_left_out_and_said(sources):
    stray = flag("flags-stray", NO_CONCERNS_BABY, "FGM", code=FGM_IS_CODE, start="2025-01-01")
    with FlagsSandbox(extra_flags={FGM_IS_BABY: [stray]}) as odd:
        picture = await picture_of(FGM_IS_BABY, sources, odd.url, FlagsAccess(token=FLAGS_TOKEN))

    assert not [r for r in from_flags(picture) if r.key.endswith("/flags-stray")]
    assert picture.baby.checks["patient-flags"].status == "partial"  # said, never silently dropped


async def test_code_is_sent_where_the_mapping_says_so(sources, flags):
    mappings = replace(MAPPINGS, flags=FlagsRules(flag=MAPPINGS.flags.flag, codes=(f"{SCT}|{FGM_IS}",)))
    before = len(flags.seen)
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s)) for s in [*sources, flags_source(flags.url)]}
        picture = await gather_picture(
            nhs_number=FGM_IS_BABY,
            clients=clients,
            mappings=mappings,
            now=NOW,
            flags={"patient-flags": FlagsAccess(token=FLAGS_TOKEN)},
        )

    assert {tuple(s["codes"]) for s in flags.seen[before:]} == {(f"{SCT}|{FGM_IS}",)}
    assert [r.category for r in from_flags(picture)] == ["fgm-is"]  # the mother's adjustment flag was not asked for


def _sources_file(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        '[sources.neonatal]\nbase_url = "http://127.0.0.1:1/fhir"\nwrite_back = true\n\n'
        f"[sources.patient-flags]\n{table}\n",
        encoding="utf-8",
    )
    return path


def test_a_patient_flags_source_is_configured_and_not_expected_where_not_connected(tmp_path):
    table = 'profile = "patient-flags"\nbase_url = "https://flags.example.nhs.uk/FHIR/R4"\n'
    source = next(s for s in load_sources(_sources_file(tmp_path, table)) if s.name == "patient-flags")

    assert source.profile == "patient-flags"
    assert "patient-flags" in MAPPINGS.source_labels and "patient-flags" not in MAPPINGS.expected_sources


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'profile = "patient-flags"\nbase_url = "https://x.example/fhir"\n'
            'auth = { type = "bearer", token_env = "T" }',
            "a patient-flags source is user-restricted",
        ),
        ('profile = "patient-flags"\nbase_url = "http://flags.example.nhs.uk/fhir"', "its base_url must be https"),
        (
            'profile = "patient-flags"\nbase_url = "https://x.example/fhir"\nwrite_back = true',
            "cannot be the write_back",
        ),
        (
            'profile = "patient-flags"\nbase_url = "https://x.example/fhir"\nunscheduled_access = { admission = true }',
            "for a cpis source",
        ),
    ],
    ids=["application credentials", "plain http", "written to", "unscheduled access"],
)
def test_a_careless_patient_flags_source_is_a_clear_config_error(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        load_sources(_sources_file(tmp_path, table))


def test_a_mapping_without_a_flag_rule_is_a_clear_config_error(tmp_path):
    for name in ("categories.toml", "record-types.toml", "relationships.toml", "sources.toml"):
        (tmp_path / name).write_text(
            (PROJECT_ROOT / "fhir_mappings" / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    (tmp_path / "patient-flags.toml").write_text('[search]\ncodes = ["x|y"]\n', encoding="utf-8")

    with pytest.raises(ConfigError, match="needs \\[flag\\]"):
        load_mappings(tmp_path)
