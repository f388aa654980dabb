"""Whom an extracted answer is about (issue 12 item 6): a parent's answers name that parent as the Observation's
focus, by NHS number; answers about someone NeoSafe cannot name safely are not written as Observations at all.

On the real checklists and fhir_mappings/observation-focus.toml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError
from app.forms import extract_observations, focus_finder, load_checklists, load_focus_rules

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS = load_checklists(ROOT / "checklists")
RULES = load_focus_rules(ROOT / "fhir_mappings" / "observation-focus.toml", CHECKLISTS)
ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def person(role: str, name: str, nhs: str | None, *, verified: bool = True) -> dict:
    return {
        "role": role,
        "name": name,
        "nhsNumber": nhs,
        "verified": verified and nhs is not None,
        "relationship": "MTH",
    }


MOTHER = person("mother", "Amy Vale", "9990102007")
FATHER = person("father", "Dean Vale", "9990103003")
BABY = person("baby", "Baby Vale", "9990101000")


def coded(code: str) -> dict:
    return {"valueCoding": {"system": ITEM, "code": code}}


def parent(name: str, role: str, factor: str = "parental-risk-substance") -> dict:
    group = "A6-parental-risk-factors.parent"
    return {
        "linkId": group,
        "item": [
            {"linkId": f"{group}.name", "answer": [{"valueString": name}]},
            {"linkId": f"{group}.role", "answer": [coded(f"person-role-{role}")]},
            {"linkId": f"{group}.details", "answer": [{"valueString": f"About {name}"}]},
        ],
    }


def admission(*parents: dict) -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": {"identifier": {"system": NHS, "value": "9990101000"}},
        "author": {"display": "Test nurse"},
        "authored": "2026-12-02T10:00:00+00:00",
        "item": [
            {
                "linkId": "A8-da-enquiry-private",
                "item": [
                    {"linkId": "A8-da-enquiry-private.asked-alone", "answer": [coded("da-asked-alone")]},
                    {"linkId": "A8-da-enquiry-private.date", "answer": [{"valueDate": "2026-12-01"}]},
                ],
            },
            {"linkId": "A6-parental-risk-factors", "item": list(parents)},
            {
                "linkId": "A10-concern-now",
                "item": [{"linkId": "A10-concern-now.concern", "answer": [{"valueBoolean": False}]}],
            },
        ],
    }


def extracted(response: dict, *people: dict) -> dict[str, list[dict | None]]:
    """linkId -> the focus of each Observation extracted for it (None: about the baby)."""
    questionnaire = CHECKLISTS.for_checkpoint("admission")
    finder = focus_finder(questionnaire, RULES, [BABY, *people])
    observations = extract_observations(
        questionnaire, response, response_reference="urn:uuid:qr", identifier="a-1", focus=finder
    )
    found: dict[str, list[dict | None]] = {}
    for o in observations:
        link_id = o["identifier"][0]["value"].split("/")[-2].split("~")[0]
        found.setdefault(link_id, []).append((o.get("focus") or [None])[0])
        assert o["subject"]["identifier"]["value"] == "9990101000"  # the baby stays the subject
    return found


def test_the_mothers_enquiry_names_her_as_the_focus_and_the_babys_own_answers_name_nobody():
    found = extracted(admission(), MOTHER, FATHER)

    mother = {"identifier": {"system": NHS, "value": "9990102007"}, "display": "Amy Vale (mother)"}
    assert found["A8-da-enquiry-private.asked-alone"] == [mother]
    assert found["A8-da-enquiry-private.date"] == [mother]
    assert found["A10-concern-now.concern"] == [None]


@pytest.mark.parametrize(
    "mother",
    [
        person("mother", "Amy Vale", None),  # no NHS number
        person("mother", "Amy Vale", "9990102007", verified=False),  # a source holds the number under another name
    ],
    ids=["no-nhs-number", "identity-mismatch"],
)
def test_an_enquiry_about_a_mother_neosafe_cannot_name_safely_is_not_written_as_an_observation(mother):
    found = extracted(admission(), mother, FATHER)

    assert not any(k.startswith("A8-") for k in found)
    assert found["A10-concern-now.concern"] == [None]  # the rest of the checklist is written as usual


def test_each_parents_risk_factors_name_that_parent_and_an_entry_nobody_matches_is_not_written():
    response = admission(
        parent("Dean Vale", "father"), parent("Amy  vale", "mother"), parent("Kyle Unknown", "partner")
    )

    found = extracted(response, MOTHER, FATHER)

    assert [f["identifier"]["value"] for f in found["A6-parental-risk-factors.parent.details"]] == [
        "9990103003",
        "9990102007",  # the name as typed, spacing and case aside
    ]  # Kyle, added by the nurse, is in no record: his answers stay in the checklist, not as Observations


def test_an_entry_naming_someone_by_the_wrong_role_or_two_people_at_once_is_not_written():
    details = "A6-parental-risk-factors.parent.details"
    sam_father, sam_partner = person("father", "Sam Lee", "9990103003"), person("partner", "Sam Lee", "9990403007")
    another_sam_father = person("father", "Sam Lee", "9990703000")

    assert details not in extracted(admission(parent("Dean Vale", "partner")), MOTHER, FATHER)
    assert len(extracted(admission(parent("Sam Lee", "father")), MOTHER, sam_father, sam_partner)[details]) == 1
    assert details not in extracted(admission(parent("Sam Lee", "father")), MOTHER, sam_father, another_sam_father)
    two_mothers = extracted(admission(), MOTHER, person("mother", "Zoe Vale", "9990402000"))
    assert not any(k.startswith("A8-") for k in two_mothers)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('group = "Z9-nowhere"\nperson = "mother"', "no checklist in use has a group 'Z9-nowhere'"),
        ('group = "A8-da-enquiry-private"\nperson = "aunt"', "person must be 'entry' or a household role"),
        ('group = "A8-da-enquiry-private"\nperson = "entry"', "has no item coded household-member-name"),
        ('person = "mother"', "group is required"),
    ],
)
def test_a_rule_naming_a_missing_group_an_unknown_role_or_an_unnamed_entry_fails_at_start_up(tmp_path, rule, message):
    path = tmp_path / "observation-focus.toml"
    path.write_text(f"[[about]]\n{rule}\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        load_focus_rules(path, CHECKLISTS)
