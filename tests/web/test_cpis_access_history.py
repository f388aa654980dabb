"""CP-IS's access history on the pages, the API, the audit trail and the handover, over HTTP end to end: a clinician
signed in through the stand-in CIS2 provider, the CP-IS sandbox accepting only a token that provider vouches for.

The summary shows each unscheduled-care access to the child's CP-IS record, dated and newest first, with the setting
it was made from; who looked is restricted detail (a role that may not see restricted records sees when and where,
not who). The history is asked as scheduled care (it is the same access as the CareTeam request, which CP-IS
records once) and is audited in the one `view-cpis` row with its TraceIDs. The handover does not carry it.
"""

from __future__ import annotations

from markupsafe import escape

from tests.families import ACTIVE_CP_BABY, ACTIVE_CP_MOTHER
from tests.web.test_cpis_access import cpis, cpis_settings, neosafe  # noqa: F401  (the same NeoSafe and CP-IS)
from tests.web.test_sessions import audited
from tests.web.test_sign_in import cis2_claims, signed_in

NEWEST = "23 November 2026, 21:15: Lowbridge Royal Infirmary Children's Emergency Department"
OLDER = "18 November 2026, 06:52: Fenmoor General Hospital Delivery Suite"
WHO = " (Dr Samir Okafor, Paediatric Registrar)"


def shown(text: str) -> str:
    return str(escape(text))


async def test_a_nurse_sees_the_access_history_dated_newest_first_and_its_requests_are_audited_once(
    neosafe,  # noqa: F811
    oidc_provider,
    cpis,  # noqa: F811
    cpis_settings,  # noqa: F811
):
    claims = cis2_claims("Priya Shah", ("p-nurse", "S8000:G8000:R8001", []), selected="p-nurse")
    with signed_in(neosafe, oidc_provider, "555000911", claims) as (browser, _):
        before, recorded = len(cpis.audit_seen), len(cpis.recorded)
        page = browser.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")  # admission: scheduled, as set
        asked, at_admission = cpis.audit_seen[before:], cpis.recorded[recorded:]
        handover = browser.get(f"/patients/{ACTIVE_CP_BABY}/handover")
        cookie = next(iter(browser.cookies.values()))
        api = browser.get(f"/api/patients/{ACTIVE_CP_BABY}/picture", headers={"Authorization": f"Bearer {cookie}"})

    assert page.status_code == 200
    assert 'data-testid="summary-access-history"' in page.text
    assert shown(NEWEST + WHO) in page.text and shown(OLDER + " (Hannah Cole, Midwife)") in page.text
    assert page.text.index(shown(NEWEST)) < page.text.index(shown(OLDER))  # newest first
    assert "2 accesses from 2 organisations" in page.text
    assert "some accesses CP-IS sent could not be read: ask CP-IS" in page.text  # the mother's undated one
    # the history is asked as scheduled care, about each person CP-IS holds a plan for; nothing more is recorded
    assert sorted((a["nhs_number"], a["unscheduled"]) for a in asked) == [
        (ACTIVE_CP_BABY, "false"),
        (ACTIVE_CP_MOTHER, "false"),
    ]
    assert at_admission == []  # admission is scheduled care here: CP-IS records no access at all
    # outside a checkpoint (the handover, the API) the CareTeam request is unscheduled care, recorded by CP-IS once
    # per person; the access history request never is
    assert {r["resource"] for r in cpis.recorded[recorded:]} == {"CareTeam"}
    events = await audited(cpis_settings.database_url, "view-cpis", "555000911")
    first = events[0].detail
    assert "baby access history (AuditEvent, TraceID" in first and "mother access history (AuditEvent" in first
    assert all(a["trace_id"] in first for a in asked)
    assert len(events) == 3  # one row per picture (the checklist, the handover, the API), as before
    # the handover does not carry it: who looked at the child's CP-IS record stays with the clinician who asked
    assert handover.status_code == 200 and CARE_CONTACT in handover.text
    assert "Dr Samir Okafor" not in handover.text and 'data-testid="summary-access-history"' not in handover.text
    baby = next(h for h in api.json()["access_history"] if h["person_role"] == "baby")
    assert (baby["checked"], baby["person_nhs_number"]) == (True, ACTIVE_CP_BABY)
    assert [(a["recorded"], a["viewer"]) for a in baby["accesses"]] == [
        ("2026-11-23T21:15:00Z", "Dr Samir Okafor"),
        ("2026-11-18T06:52:00Z", "Hannah Cole"),
    ]


CARE_CONTACT = str(escape("Contact Fenmoor County Council Children's Services"))


async def test_a_community_nurse_sees_when_and_where_the_child_was_seen_but_not_who_looked(
    neosafe,  # noqa: F811
    oidc_provider,
):
    claims = cis2_claims("Jo Reed", ("p-community", "S8000:G8000:R8003", []), selected="p-community")
    with signed_in(neosafe, oidc_provider, "555000912", claims) as (browser, _):
        page = browser.get(f"/patients/{ACTIVE_CP_BABY}")
        cookie = next(iter(browser.cookies.values()))
        api = browser.get(f"/api/patients/{ACTIVE_CP_BABY}/picture", headers={"Authorization": f"Bearer {cookie}"})

    assert page.status_code == 200
    assert shown(NEWEST) + "</li>" in page.text  # dated, and where from; who looked withheld
    assert "Dr Samir Okafor" not in page.text and "Hannah Cole" not in page.text
    baby = next(h for h in api.json()["access_history"] if h["person_role"] == "baby")
    assert {(a["viewer"], a["role"]) for a in baby["accesses"]} == {(None, None)}
    assert baby["accesses"][0]["organisation"] == "Lowbridge Royal Infirmary Children's Emergency Department"
