"""CP-IS's access history (AuditEvent), over HTTP against the CP-IS sandbox: asked about each person CP-IS holds a
plan for, dated and newest first however old, sent as scheduled care so CP-IS records the access once (with the
CareTeam request), and *not checked* (never "no other accesses") when it cannot be read, the CareTeam answer
standing."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.checkpoints.redaction import kept_for, seen_by
from app.checkpoints.summary import load_severity, summarise
from app.checkpoints.users import ROLES, User
from app.config import PROJECT_ROOT, ConfigError
from app.picture import AccessHistory, CpisAccess, Picture, load_mappings
from app.picture.cpis_access import read_accesses
from app.sources import ACCESS_HISTORY_INCLUDE
from sandbox.cpis import CPIS_TOKEN, CpisSandbox
from sandbox.cpis_access import access_entries
from tests.families import ACTIVE_CP_BABY, ACTIVE_CP_MOTHER, NO_CONCERNS_BABY
from tests.picture.test_cpis import MAPPINGS, NOW, cpis_status, picture_of, with_cpis

LABELS = MAPPINGS.source_labels


@pytest.fixture(scope="module")
def cpis() -> Iterator[CpisSandbox]:
    with CpisSandbox() as running:
        yield running


def history_of(picture: Picture, role: str) -> AccessHistory:
    return next(h for h in picture.access_history if h.person_role == role)


async def test_each_child_with_a_plan_has_their_access_history_dated_newest_first(sources, cpis):
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))

    baby = history_of(picture, "baby")
    assert (baby.checked, baby.person_nhs_number, baby.person_name, baby.problems) == (
        True,
        ACTIVE_CP_BABY,
        picture.baby.name,
        [],
    )
    assert [(a.recorded, a.organisation, a.viewer, a.role) for a in baby.accesses] == [
        (
            "2026-11-23T21:15:00Z",
            "Lowbridge Royal Infirmary Children's Emergency Department",
            "Dr Samir Okafor",
            "Paediatric Registrar",
        ),
        ("2026-11-18T06:52:00Z", "Fenmoor General Hospital Delivery Suite", "Hannah Cole", "Midwife"),
    ]
    # The unborn child's plan on the mother's number ended at birth: its history is still shown (it never expires).
    mother = history_of(picture, "mother")
    assert [a.recorded[:10] for a in mother.accesses] == ["2026-10-21", "2026-09-30", "2026-08-14", "2026-07-02"]
    assert mother.settings == [
        "Fenmoor General Hospital Maternity Triage",
        "Fenmoor Urgent Treatment Centre",
        "Lowbridge Royal Infirmary Emergency Department",
        "Fenmoor General Hospital Emergency Department",
    ]
    # the access CP-IS sent without a date (an AuditEvent FHIR cannot read) is left out, and said
    assert mother.checked and len(mother.problems) == 1 and "recorded" in mother.problems[0]
    assert [h.person_role for h in picture.access_history] == ["baby", "mother"]


async def test_nobody_without_a_plan_is_asked_for_an_access_history(sources, cpis):
    before = len(cpis.audit_seen)
    picture = await picture_of(NO_CONCERNS_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))

    assert picture.access_history == []
    assert len(cpis.audit_seen) == before  # no plan, no access history to ask for


@pytest.mark.parametrize("unscheduled", [True, False])
async def test_the_history_is_asked_with_the_same_token_its_include_and_as_scheduled_care(sources, cpis, unscheduled):
    seen, audited, recorded = len(cpis.seen), len(cpis.audit_seen), len(cpis.recorded)
    access = CpisAccess(token=CPIS_TOKEN, unscheduled=unscheduled)
    await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), access)

    asked = cpis.audit_seen[audited:]
    assert sorted(a["nhs_number"] for a in asked) == sorted([ACTIVE_CP_BABY, ACTIVE_CP_MOTHER])
    assert {a["unscheduled"] for a in asked} == {"false"}  # the same access: CP-IS must not record it twice
    history = [r for _, r in access.sent if r.resource == "AuditEvent"]
    care_team = [r for _, r in access.sent if r.resource == "CareTeam"]
    assert sorted(a["trace_id"] for a in asked) == sorted(r.trace_id for r in history)
    assert len({r.trace_id for _, r in access.sent}) == 4 and all(uuid.UUID(r.trace_id) for _, r in access.sent)
    assert {r.unscheduled for r in care_team} == {unscheduled} and len(cpis.seen) - seen == 2
    # what CP-IS records (and tells the local authority of): the CareTeam requests, once each, if unscheduled care
    once = sorted([("CareTeam", ACTIVE_CP_BABY), ("CareTeam", ACTIVE_CP_MOTHER)])
    assert sorted((r["resource"], r["nhs_number"]) for r in cpis.recorded[recorded:]) == (once if unscheduled else [])


async def test_the_sandbox_refuses_an_access_history_search_without_the_guides_include(cpis):
    headers = {
        "Authorization": f"Bearer {CPIS_TOKEN}",
        "TraceID": str(uuid.uuid4()),
        "IsUnscheduledAccessEvent": "false",
    }
    params = {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{ACTIVE_CP_BABY}"}
    async with httpx.AsyncClient(base_url=cpis.url) as http:
        bare = await http.get("/AuditEvent", params=params, headers=headers)
        token = await http.get("/AuditEvent", params={**params, "_include": ACCESS_HISTORY_INCLUDE})

    assert bare.status_code == 400 and token.status_code == 401


@pytest.mark.parametrize("broken", ["audit_failing", "audit_malformed"])
async def test_an_access_history_cp_is_cannot_give_reads_not_checked_and_the_plan_stands(sources, broken):
    with CpisSandbox(**{broken: frozenset({ACTIVE_CP_BABY})}) as odd:
        picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, odd.url), CpisAccess(token=CPIS_TOKEN))

    baby = history_of(picture, "baby")
    assert (baby.checked, baby.accesses) == (False, [])
    assert baby.error.startswith("HTTP 500") if broken == "audit_failing" else baby.error
    plan = next(r for r in picture.records if r.source == "cpis" and r.code == "CPPI")
    assert plan.current and picture.baby.checks["cpis"].status == "found"  # the CareTeam answer still stands
    assert cpis_status(picture).status == "found"
    assert history_of(picture, "mother").checked  # the mother's history was read


async def test_an_access_years_ago_is_still_shown(sources):
    accesses = {
        ACTIVE_CP_BABY: [
            ("old", "2016-03-01T10:00:00Z", "Dr A Old", "Doctor", "Lowbridge Walk-in Centre"),
            ("new", "2026-11-20T10:00:00+00:00", "Dr B New", "Doctor", "Fenmoor General Hospital Emergency Department"),
        ],
    }
    with CpisSandbox(accesses=accesses) as odd:
        picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, odd.url), CpisAccess(token=CPIS_TOKEN))
    assert [a.organisation for a in history_of(picture, "baby").accesses] == [
        "Fenmoor General Hospital Emergency Department",
        "Lowbridge Walk-in Centre",
    ]
    assert history_of(picture, "mother").accesses == []  # checked: CP-IS recorded none


def test_an_access_about_another_nhs_number_is_left_out_and_said():
    accesses = [("old", "2016-03-01T10:00:00Z", "Dr A Old", "Doctor", "Lowbridge Walk-in Centre")]
    rules = MAPPINGS.cpis.access
    stray = [e["resource"] for e in access_entries(NO_CONCERNS_BABY, accesses, "http://x/")]
    kept, problems = read_accesses(stray, rules, ACTIVE_CP_BABY)
    assert (kept, problems) == ([], ["1 access(es) about another NHS number; left out"])


def summary_of(picture: Picture):
    return summarise(picture, load_severity(PROJECT_ROOT / "fhir_mappings"), labels=LABELS, today=NOW.date())


async def test_the_summary_says_an_unread_access_history_is_not_checked_never_no_other_accesses(sources):
    with CpisSandbox(audit_failing=frozenset({ACTIVE_CP_BABY})) as odd:
        picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, odd.url), CpisAccess(token=CPIS_TOKEN))

    summary = summary_of(picture)
    label = LABELS["cpis"]
    unread = [line for line in summary.sources_not_checked if "access history" in line]
    assert unread == [
        f"{label} access history ({picture.baby.name}, baby): not checked: {history_of(picture, 'baby').error}"
    ]
    assert [h.about.split(", ")[1] for h in summary.access_history] == ["mother"]  # the baby's is not "none"
    assert any(c.contacts for _, _, groups in summary.tiers for _, cs in groups for c in cs)  # the plan stands


async def test_another_reader_of_a_kept_picture_gets_no_access_history_and_a_restricted_role_no_names(sources, cpis):
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))
    nurse = User("u-1", "Priya Shah", ROLES["nurse"])
    community = User("u-2", "Jo Reed", ROLES["community-nurse"])

    assert kept_for(picture, asked_by="u-1", reader=community, user_restricted=frozenset({"cpis"})).access_history == []
    assert kept_for(picture, asked_by="u-1", reader=nurse, user_restricted=frozenset({"cpis"})) is picture
    seen = seen_by(picture, community)
    assert [(a.viewer, a.role) for h in seen.access_history for a in h.accesses] == [(None, None)] * 6
    assert [a.organisation for a in seen.access_history[0].accesses] == [
        a.organisation for a in picture.access_history[0].accesses
    ]
    assert seen_by(picture, nurse) is picture
    lines = summary_of(seen).access_history[0].accesses
    assert lines[0] == "23 November 2026, 21:15: Lowbridge Royal Infirmary Children's Emergency Department"


@pytest.mark.parametrize("token", [None, "not-a-cis2-token"], ids=["no token", "a token CP-IS refuses"])
async def test_without_a_care_team_answer_no_access_history_is_asked(sources, cpis, token):
    before = len(cpis.audit_seen)
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), CpisAccess(token=token))

    assert picture.access_history == [] and len(cpis.audit_seen) == before
    assert cpis_status(picture).status == "unavailable"  # CP-IS not checked: never "no access history"


def test_an_access_history_mapping_missing_a_path_is_a_clear_error_at_start(tmp_path):
    folder = tmp_path / "fhir_mappings"
    shutil.copytree(PROJECT_ROOT / "fhir_mappings", folder)
    rules = folder / "cpis.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace('organisation = "organization.display"\n', ""))

    with pytest.raises(ConfigError, match=r"\[access_history\], if given, with recorded, practitioner_role"):
        load_mappings(folder)
