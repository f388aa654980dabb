"""The safeguarding checklists in checklists/ pass `neosafe checklists lint` and follow NeoSafe's SDC conventions.

Lint (app/forms/lint.py, tested in test_lint.py) is the one implementation of the structural checks: valid R4,
unique linkIds, enableWhen and expressions that refer to things that exist, codes verified or defined. Here:
the house conventions (naming, help text, one code per question, "Not known" offered), NeoSafe's CodeSystem,
every FHIRPath expression evaluating against sample safeguarding pictures, and the picture-driven triggers firing
for the families they are meant for (and not for a family with no concerns).
"""

import json
import re
from pathlib import Path

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhirpathpy import evaluate
from fhirpathpy.models import models

from app.forms.lint import lint_checklists

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS = ("admission", "transfer", "discharge")
CODESYSTEM_PATH = ROOT / "fhir_mappings" / "neosafe-checklist-items.json"

SNOMED = "http://snomed.info/sct"
NEOSAFE = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"

EXT_ENABLE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
EXT_INITIAL = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"
EXT_POP = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemPopulationContext"
EXT_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ROOT_EXTENSIONS = {
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext",
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract",
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observation-extract-category",
}
EXT_SIGNATURE = "http://hl7.org/fhir/StructureDefinition/questionnaire-signatureRequired"
EXT_MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"  # a date bound, calculated from today()
VERSIONS = {"admission": "1.4.0", "transfer": "1.2.0", "discharge": "1.6.0"}  # earlier versions are archived
ITEM_EXTENSIONS = {
    EXT_ENABLE,
    EXT_INITIAL,
    EXT_POP,
    EXT_CONTROL,
    EXT_SIGNATURE,
    EXT_MIN_VALUE,
}  # what the checklists use (README)
EXPRESSION_EXTENSIONS = {EXT_ENABLE, EXT_INITIAL, EXT_POP}
QUESTION_TYPES = {"boolean", "choice", "open-choice", "string", "text", "integer", "decimal", "date", "dateTime"}
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# ---------------------------------------------------------------- helpers


def load(name: str) -> dict:
    return json.loads((ROOT / "checklists" / f"{name}.json").read_text())


def codesystem() -> dict:
    return json.loads(CODESYSTEM_PATH.read_text())


def walk(items, parent=None, scope=()):
    """Yield (item, parent, names of itemPopulationContext variables in scope for the item's expressions)."""
    for item in items or []:
        yield item, parent, scope
        inner = scope
        for ext in item.get("extension", []):
            if ext["url"] == EXT_POP:
                inner = (*scope, ext["valueExpression"]["name"])
        yield from walk(item.get("item"), item, inner)


def all_items(q):
    return [i for i, _, _ in walk(q["item"])]


def codings(q):
    """Every Coding that names a concept: Questionnaire.code, item.code, answerOption, enableWhen."""
    out = [("Questionnaire.code", c) for c in q.get("code", [])]
    for item in all_items(q):
        out += [(item["linkId"], c) for c in item.get("code", [])]
        out += [(item["linkId"], o["valueCoding"]) for o in item.get("answerOption", []) if "valueCoding" in o]
        out += [(item["linkId"], w["answerCoding"]) for w in item.get("enableWhen", []) if "answerCoding" in w]
    return out


def expressions(q):
    """(linkId, extension url, expression, variables in scope) for every FHIRPath expression."""
    # walk() gives each item the scope of its ancestors, so a group's own itemPopulationContext is evaluated
    # outside the variable it creates, and its children inside it.
    return [
        (item["linkId"], ext["url"], ext["valueExpression"], scope)
        for item, _parent, scope in walk(q["item"])
        for ext in item.get("extension", [])
        if ext["url"] in EXPRESSION_EXTENSIONS
    ]


# ---------------------------------------------------------------- sample pictures (shape of %picture)


def person(role, name, nhs=None, relationship=""):
    male_carer = role in ("father", "partner")  # as fhir_mappings/relationships.toml marks them
    return {
        "role": role,
        "name": name,
        "nhsNumber": nhs,
        "verified": nhs is not None,
        "relationship": relationship,
        "maleCarer": male_carer,
    }


def record(category, role, code, display, current, source="maternity", nhs=None, restricted=False):
    return {
        "category": category,
        "current": current,
        "personRole": role,
        "personNhsNumber": nhs,
        "source": source,
        "code": code,
        "display": display,
        "resourceType": "Flag",
        "restricted": restricted,
    }


def sources(**status):
    names = ("neonatal", "maternity", "social-care", "cpis", "police-gp")
    return [
        {"name": n, "status": status.get(n.replace("-", "_"), "none-found"), "detail": "checked 2026-11-26 09:00"}
        for n in names
    ]


BABY = person("baby", "Baby V", "9990000026")
MOTHER = person("mother", "Anna V", "9990000034", "MTH")
FATHER = person("father", "Piotr V", "9990000042", "FTH")

# Scenario 1, Case V analogue: historic police DA notice, CIN closed 20 months before birth, CP-IS negative,
# mother needs an interpreter, born at 26 weeks.
CASE_V = {
    "checkpoint": "admission",
    "records": [
        record(
            "domestic-abuse",
            "mother",
            "895141000000105",
            "Police domestic incident report received",
            False,
            "police-gp",
            "9990000034",
            restricted=True,
        ),
        record("social-care", "sibling", "836931000000102", "Subject of child in need plan", False, "social-care"),
        record(
            "interpreter",
            "mother",
            "203901000000102",
            "Polish language interpreter needed",
            True,
            "maternity",
            "9990000034",
        ),
    ],
    "sources": sources(maternity="found", social_care="found", police_gp="found"),
    "people": [BABY, MOTHER, FATHER],
    "baby": {"gestationWeeks": 26, "preterm": True},
}
# Scenario 2: every source answers "none found".
NO_CONCERNS = {
    "checkpoint": "admission",
    "records": [],
    "sources": sources(),
    "people": [BABY, MOTHER, FATHER],
    "baby": {"gestationWeeks": 39, "preterm": False},
}
# Scenario 3: social care down, CP-IS not configured, nothing else known.
SOURCE_DOWN = {
    "checkpoint": "admission",
    "records": [],
    "sources": sources(social_care="unavailable", cpis="not-configured"),
    "people": [BABY, MOTHER],
    "baby": {"gestationWeeks": None, "preterm": None},
}
# Scenario 4: active CP plan.
ACTIVE_CP = {
    "checkpoint": "discharge",
    "records": [
        record(
            "child-protection",
            "baby",
            "342191000000101",
            "Subject to child protection plan",
            True,
            "cpis",
            "9990000026",
        )
    ],
    "sources": sources(cpis="found"),
    "people": [BABY, MOTHER, FATHER, person("partner", "Tom P")],
    "baby": {"gestationWeeks": 38, "preterm": False},
}
PICTURES = {"case-v": CASE_V, "no-concerns": NO_CONCERNS, "source-down": SOURCE_DOWN, "active-cp": ACTIVE_CP}

PATIENT = {
    "resourceType": "Patient",
    "id": "baby",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000026"}],
}
ENCOUNTER = {"resourceType": "Encounter", "id": "enc", "status": "in-progress"}
# %recipients as app.handover.recipient_entries gives it: a route found, a GP named without a route, none found.
RECIPIENTS = [
    {"kind": "health-visitor", "name": "Riverside Health Visiting Team", "route": "NeoSafe sends it to ..."},
    {"kind": "gp", "name": "Millbrook Medical Practice", "route": "Not reachable: send by another means"},
    {"kind": "community-neonatal-team", "name": None, "route": "Not reachable: send by another means"},
    {"kind": "community-midwife", "name": None, "route": "Not reachable: send by another means"},
    {"kind": "recipient-social-worker", "name": "Priya Ramsden (Fenmoor LA)", "route": "Not reachable: send by..."},
]


def response(*answers):
    """A QuestionnaireResponse with flat answers: (linkId, {valueX: ...})."""
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "in-progress",
        "item": [{"linkId": "g", "item": [{"linkId": link, "answer": [value]} for link, value in answers]}],
    }


def env(q, picture, qr=None, **scoped):
    return {
        "patient": PATIENT,
        "encounter": ENCOUNTER,
        "resource": qr or response(),
        "questionnaire": q,
        "picture": picture,
        "findings": [],  # no discharge finding unless a test names one (app.checkpoints.holds)
        "recipients": RECIPIENTS,
        **scoped,
    }


def find(q, link_id):
    for item in all_items(q):
        if item["linkId"] == link_id:
            return item
    raise KeyError(link_id)


def expr_of(q, link_id, url):
    for ext in find(q, link_id).get("extension", []):
        if ext["url"] == url:
            return ext["valueExpression"]["expression"]
    raise KeyError((link_id, url))


def run(q, link_id, url, picture, qr=None, model=None, **scoped):
    return evaluate({}, expr_of(q, link_id, url), env(q, picture, qr, **scoped), model)


def enabled(q, link_id, picture, qr=None):
    """The enableWhenExpression result, the same with and without the R4 model."""
    results = {tuple(run(q, link_id, EXT_ENABLE, picture, qr, model=m)) for m in (None, models["r4"])}
    assert len(results) == 1, (link_id, results)
    return list(results.pop()) == [True]


def coding(code, system=NEOSAFE):
    return {"valueCoding": {"system": system, "code": code}}


# ---------------------------------------------------------------- structure


def test_lint_finds_no_problem():
    """Valid R4, linkIds unique, enableWhen and expressions refer to what exists, codes verified or defined."""
    root = Path(__file__).resolve().parents[2]
    assert [str(p) for p in lint_checklists(root / "checklists", root / "fhir_mappings")] == []


@pytest.mark.parametrize("name", CHECKLISTS)
def test_names_and_launch_contexts_follow_the_house_style(name):
    q = load(name)
    assert q["resourceType"] == "Questionnaire"
    assert q["id"] == name
    assert q["url"] == f"https://neosafe.org.uk/fhir/Questionnaire/{name}"
    assert q["version"] == VERSIONS[name]
    assert q["status"] == "active"
    assert q["subjectType"] == ["Patient"]
    assert q["title"] == f"Safeguarding checklist: {name}"
    assert q["code"] == [{"system": NEOSAFE, "code": f"{name}-checklist", "display": f"Safeguarding checklist: {name}"}]
    urls = [e["url"] for e in q["extension"]]
    assert set(urls) == ROOT_EXTENSIONS
    contexts = {
        (e["extension"][0]["valueCoding"]["code"], e["extension"][1]["valueCode"])
        for e in q["extension"]
        if e["url"].endswith("launchContext")
    }
    assert contexts == {("patient", "Patient"), ("encounter", "Encounter"), ("user", "Practitioner")}


@pytest.mark.parametrize("name", CHECKLISTS)
def test_link_ids_readable(name):
    ids = [i["linkId"] for i in all_items(load(name))]
    prefix = {"admission": "A", "transfer": "T", "discharge": "D"}[name]
    for link in ids:
        assert re.match(rf"^({prefix}\d+-[a-z0-9-]+|signoff)(\.[a-z0-9-]+)*$", link), link


@pytest.mark.parametrize("name", CHECKLISTS)
def test_items_follow_conventions(name):
    q = load(name)
    for item, parent, _ in walk(q["item"]):
        link, typ = item["linkId"], item["type"]
        assert typ in QUESTION_TYPES | {"group", "display"}, link
        assert item.get("text"), link
        assert {ext["url"] for ext in item.get("extension", [])} <= ITEM_EXTENSIONS, link  # only what README lists
        if typ == "display":  # displays are help text only, attached to their parent
            assert parent is not None and link == f"{parent['linkId']}.help", link
            assert item["extension"][0]["url"] == EXT_CONTROL
            assert item["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "help"
            continue
        assert isinstance(item.get("required"), bool), f"{link}: required must be stated"
        if typ == "group":
            assert "code" not in item, f"{link}: groups are not extracted as Observations"
            continue
        assert len(item.get("code", [])) == 1, f"{link}: every question has exactly one code"
        helps = [c for c in item.get("item", []) if c["type"] == "display"]
        assert [h["linkId"] for h in helps] == [f"{link}.help"], f"{link}: needs one help child"
        assert all(c["type"] == "display" for c in item.get("item", [])), f"{link}: questions only nest help"
        if typ in ("choice", "open-choice"):
            assert item.get("answerOption"), link
            for opt in item["answerOption"]:
                c = opt["valueCoding"]
                assert c.get("system") and c.get("code") and c.get("display"), (link, c)


@pytest.mark.parametrize("name", CHECKLISTS)
def test_every_checklist_item_is_required_when_shown(name):
    """Each content item (A1, A2 ...) is M, or C and then carries its trigger: either way required when shown."""
    for item in load(name)["item"]:
        assert item["type"] == "group" and item["required"] is True, item["linkId"]


@pytest.mark.parametrize("name", CHECKLISTS)
def test_not_known_offered_wherever_yes_no_is_a_choice(name):
    for item in all_items(load(name)):
        codes = {o["valueCoding"]["code"] for o in item.get("answerOption", [])}
        if {"yes", "no"} <= codes:
            assert "not-known" in codes, item["linkId"]


# ---------------------------------------------------------------- codes


def test_codesystem_is_valid_and_complete():
    cs = codesystem()
    CodeSystem.model_validate(cs)
    assert cs["url"] == NEOSAFE
    assert cs["version"] == "1.4.0"  # 1.4.0: the FGM-IS flag (discharge 1.6.0); 1.3.0: the discharge address
    assert cs["status"] == "active"
    assert cs["content"] == "complete"
    assert cs["caseSensitive"] is True
    codes = [c["code"] for c in cs["concept"]]
    assert len(codes) == len(set(codes))
    assert cs.get("count", len(codes)) == len(codes)
    for c in cs["concept"]:
        assert KEBAB.match(c["code"]), c["code"]
        assert c.get("display") and c.get("definition"), c["code"]
    # every checklist's codes, in-stay checks included; an archived version's stay defined (its responses are read)
    files = [*sorted((ROOT / "checklists").glob("*.json")), *sorted((ROOT / "checklists" / "archive").glob("*.json"))]
    used = {c["code"] for p in files for _, c in codings(json.loads(p.read_text())) if c["system"] == NEOSAFE}
    assert set(codes) == used, f"defined but unused: {sorted(set(codes) - used)}"
    for name in CHECKLISTS:
        assert f"{name}-checklist" in codes


# ---------------------------------------------------------------- FHIRPath


@pytest.mark.parametrize("picture", PICTURES, ids=list(PICTURES))
@pytest.mark.parametrize("name", CHECKLISTS)
def test_every_expression_evaluates(name, picture):
    """Each expression runs, with and without the R4 model, on each sample picture (lint checks the names)."""
    q = load(name)
    pic = PICTURES[picture]
    # Bind each population variable to the first element its group would create (or a sample).
    bound = {}
    for _link, url, value, _scope in expressions(q):
        if url == EXT_POP:
            result = evaluate({}, value["expression"], env(q, pic, **bound))
            bound[value["name"]] = result[0] if result else {"name": "x", "role": "carer", "nhsNumber": None}
    for link, url, value, scope in expressions(q):
        for model in (None, models["r4"]):
            result = evaluate({}, value["expression"], env(q, pic, **{k: bound[k] for k in scope}), model)
            if url == EXT_ENABLE:
                assert result in ([True], [False], []), (link, result)


# ---------------------------------------------------------------- picture-driven behaviour


def test_a1_one_entry_per_source_and_unchecked_sources_need_a_reason():
    q = load("admission")
    pop = expr_of(q, "A1-flags-reviewed.source", EXT_POP)
    srcs = evaluate({}, pop, env(q, SOURCE_DOWN))
    assert [s["name"] for s in srcs] == ["neonatal", "maternity", "social-care", "cpis", "police-gp"]
    social = srcs[2]
    assert run(q, "A1-flags-reviewed.source.status", EXT_INITIAL, SOURCE_DOWN, source=social) == ["unavailable"]
    retry = find(q, "A1-flags-reviewed.source.retry-plan")
    assert retry["required"] is True
    assert {w.get("answerString") for w in retry["enableWhen"]} >= {"unavailable", "not-configured"}
    counts = [run(q, "A1-flags-reviewed.source.records", EXT_INITIAL, CASE_V, source=s)[0] for s in CASE_V["sources"]]
    assert sum(counts) == len(CASE_V["records"])


def test_a8_private_da_enquiry_triggered_by_historic_da_or_a6():
    q = load("admission")
    link = "A8-da-enquiry-private"
    assert enabled(q, link, CASE_V)  # historic police notice counts
    assert not enabled(q, link, NO_CONCERNS)
    a6 = response(("A6-parental-risk-factors.parent.factors", coding("da-perpetrator")))
    assert enabled(q, link, NO_CONCERNS, a6)
    outcome = find(q, "A8-da-enquiry-private.outcome")
    assert outcome["required"] is True and outcome["code"][0]["code"] == "700410005"
    assert "700411009" in {o["valueCoding"]["code"] for o in outcome["answerOption"]}


def test_a9_triggered_by_disclosure_or_police_record():
    q = load("admission")
    link = "A9-da-risk-assessment"
    assert enabled(q, link, CASE_V)
    assert not enabled(q, link, NO_CONCERNS)
    disclosed = response(("A8-da-enquiry-private.outcome", coding("da-enquiry-disclosed")))
    assert enabled(q, link, NO_CONCERNS, disclosed)


def test_a2_prefill_and_a3_follows_current_involvement():
    q = load("admission")
    link = "A2-social-care-involvement.status"
    assert [c["code"] for c in run(q, link, EXT_INITIAL, CASE_V)] == ["social-care-past-closed"]
    assert [c["code"] for c in run(q, link, EXT_INITIAL, ACTIVE_CP)] == ["social-care-current"]
    assert run(q, link, EXT_INITIAL, SOURCE_DOWN) == []  # never pre-fill "none known"
    a3 = find(q, "A3-current-social-care")
    assert a3["enableWhen"][0]["question"] == link
    assert a3["enableWhen"][0]["answerCoding"]["code"] == "social-care-current"


def test_a4_one_entry_per_person_and_father_reason():
    q = load("admission")
    people = evaluate({}, expr_of(q, "A4-household.person", EXT_POP), env(q, CASE_V))
    assert [p["role"] for p in people] == ["mother", "father"]
    role = run(q, "A4-household.person.role", EXT_INITIAL, CASE_V, person=people[1])
    assert [c["code"] for c in role] == ["person-role-father"]
    assert [c["code"] for c in run(q, "A4-household.father-recorded", EXT_INITIAL, CASE_V)] == ["yes"]
    assert run(q, "A4-household.father-recorded", EXT_INITIAL, SOURCE_DOWN) == []
    reason = find(q, "A4-household.father-not-recorded-reason")
    assert reason["required"] is True
    assert {w["answerCoding"]["code"] for w in reason["enableWhen"]} == {"no", "not-known"}


def test_a4_prefills_the_mothers_parental_responsibility_and_nobody_elses():
    """The mother has parental responsibility from birth, in law: a stated fact. Anyone else's is asked."""
    q = load("admission")
    link = "A4-household.person.parental-responsibility"
    assert [c["code"] for c in run(q, link, EXT_INITIAL, CASE_V, person=MOTHER)] == ["yes"]
    assert run(q, link, EXT_INITIAL, CASE_V, person=FATHER) == []
    assert run(q, link, EXT_INITIAL, CASE_V, person=person("partner", "Tom V")) == []


def test_a6_a7_prefill_per_parent():
    q = load("admission")
    fac = run(q, "A6-parental-risk-factors.parent.factors", EXT_INITIAL, CASE_V, parent=MOTHER)
    assert [c["code"] for c in fac] == ["371772001"]
    assert run(q, "A6-parental-risk-factors.parent.factors", EXT_INITIAL, CASE_V, parent=FATHER) == []
    need = run(q, "A7-language-interpreter.parent.interpreter-need", EXT_INITIAL, CASE_V, parent=MOTHER)
    assert [c["code"] for c in need] == ["315594003"]
    assert run(q, "A7-language-interpreter.parent.interpreter-need", EXT_INITIAL, CASE_V, parent=FATHER) == []


def test_transfer_triggers():
    q = load("transfer")
    assert enabled(q, "T2-social-worker-told", ACTIVE_CP)
    assert not enabled(q, "T2-social-worker-told", CASE_V)  # closed CIN only
    assert enabled(q, "T3-orders-and-responsibility", ACTIVE_CP)
    assert not enabled(q, "T3-orders-and-responsibility", NO_CONCERNS)
    assert enabled(q, "T6-receiving-unit.safeguarding-team-told", CASE_V)
    assert not enabled(q, "T6-receiving-unit.safeguarding-team-told", NO_CONCERNS)


def test_discharge_triggers():
    q = load("discharge")
    # The named nurse co-signs when the family has a record, or when the checklist itself found something.
    assert run(q, "signoff.named-nurse", EXT_ENABLE, NO_CONCERNS) == [False]
    assert run(q, "signoff.named-nurse", EXT_ENABLE, NO_CONCERNS, findings=["concern-at-discharge"]) == [True]
    assert enabled(q, "D2-social-care-confirmed", CASE_V)  # past involvement counts
    assert not enabled(q, "D2-social-care-confirmed", NO_CONCERNS)
    assert enabled(q, "D3-discharge-planning-meeting", ACTIVE_CP)
    assert not enabled(q, "D3-discharge-planning-meeting", CASE_V)
    cp_confirmed = response(("D2-social-care-confirmed.plan-type", coding("342191000000101", SNOMED)))
    assert enabled(q, "D3-discharge-planning-meeting", NO_CONCERNS, cp_confirmed)
    assert enabled(q, "D4-da-enquiry-private", CASE_V)
    assert not enabled(q, "D4-da-enquiry-private", NO_CONCERNS)
    unknown = response(("D4-da-indicated.identified", coding("not-known")))
    assert enabled(q, "D4-da-enquiry-private", NO_CONCERNS, unknown)
    assert enabled(q, "D7-safer-sleep", CASE_V)  # preterm
    assert not enabled(q, "D7-safer-sleep", NO_CONCERNS)
    assert not enabled(q, "D7-safer-sleep", SOURCE_DOWN)  # gestation unknown: the gate question is required instead
    assert find(q, "D7-preterm-or-low-birthweight.answer")["required"] is True
    assert enabled(q, "signoff.named-nurse", CASE_V)
    assert not enabled(q, "signoff.named-nurse", NO_CONCERNS)


@pytest.mark.parametrize("status", ["unavailable", "partial", "not-configured"])
@pytest.mark.parametrize("source", ["social_care", "cpis"])
def test_d2_is_asked_when_social_care_or_cpis_was_not_checked(source, status):
    """Not checked is not "none": with no social care record, D2 is still asked when either source was not checked."""
    q = load("discharge")
    not_checked = {**NO_CONCERNS, "checkpoint": "discharge", "sources": sources(**{source: status})}
    assert enabled(q, "D2-social-care-confirmed", not_checked)
    assert enabled(q, "D2-social-care-confirmed", SOURCE_DOWN)  # social care down, CP-IS not connected
    assert not enabled(q, "D2-social-care-confirmed", {**NO_CONCERNS, "sources": sources(police_gp=status)})
    assert not enabled(q, "D2-social-care-confirmed", NO_CONCERNS)  # both answered "none found"


def test_d6_icon_one_record_per_carer():
    q = load("discharge")
    carers = evaluate({}, expr_of(q, "D6-icon.carer", EXT_POP), env(q, ACTIVE_CP))
    assert [c["role"] for c in carers] == ["mother", "father", "partner"]
    assert find(q, "D6-icon.carer")["repeats"] is True


def test_d10_one_entry_per_recipient_neosafe_found_with_its_name_and_route():
    q = load("discharge")
    recips = evaluate({}, expr_of(q, "D10-handover.recipient", EXT_POP), env(q, NO_CONCERNS))
    assert recips == RECIPIENTS
    for r in recips:
        assert [c["code"] for c in run(q, "D10-handover.recipient.type", EXT_INITIAL, NO_CONCERNS, recipient=r)] == [
            r["kind"]
        ]
        name = run(q, "D10-handover.recipient.name", EXT_INITIAL, NO_CONCERNS, recipient=r)
        assert name == ([r["name"]] if r["name"] else [])  # none found: left for the nurse, never made up
        assert run(q, "D10-handover.recipient.route", EXT_INITIAL, NO_CONCERNS, recipient=r) == [r["route"]]
    assert find(q, "D10-handover.recipient.route")["readOnly"] is True


def test_d10_gp_registered_is_prefilled_yes_only_from_a_named_practice_never_no():
    q = load("discharge")
    with_gp = {**PATIENT, "generalPractitioner": [{"display": "Millbrook Medical Practice"}]}
    assert run(q, "D10-handover.gp-registered", EXT_INITIAL, NO_CONCERNS, patient=with_gp) == [True]
    assert run(q, "D10-handover.gp-registered", EXT_INITIAL, NO_CONCERNS) == []  # none named: not "No"
    assert run(q, "D10-handover.gp-practice", EXT_INITIAL, NO_CONCERNS) == ["Millbrook Medical Practice"]


def test_d5_address_is_the_current_home_address_on_the_record_and_blank_when_there_is_none():
    q = load("discharge")
    patient = {
        **PATIENT,
        "address": [
            {"use": "home", "line": ["3 Old Road"], "postalCode": "ZZ9 9ZZ", "period": {"end": "2026-01-01"}},
            {"use": "work", "line": ["Council Offices"], "postalCode": "ZZ1 1ZZ"},
            {
                "use": "home",
                "line": ["12 Mill Lane", "Flat 2"],
                "city": "Riverside",
                "district": "Riverside",
                "postalCode": "RV3 1AB",
            },
        ],
    }
    home = run(q, "D5-carers.home-address", EXT_INITIAL, NO_CONCERNS, patient=patient)
    assert home == ["12 Mill Lane, Flat 2, Riverside, RV3 1AB"]
    assert run(q, "D5-carers.home-address", EXT_INITIAL, NO_CONCERNS) == []
    moved_out = {**PATIENT, "address": patient["address"][:2]}
    assert run(q, "D5-carers.home-address", EXT_INITIAL, NO_CONCERNS, patient=moved_out) == []
    address = find(q, "D5-carers.home-address")
    assert address["required"] is True and not address.get("readOnly")  # the nurse confirms or changes it


FGM_MOTHER = record("fgm", "mother", "FGM", "Female Genital Mutilation Flag", True)
FGM_IS_SISTER = record("fgm-is", "sibling", "902961000000107", "Family history of FGM", True, source="patient-flags")
FGM_IS_BABY = record("fgm-is", "baby", "902961000000107", "Family history of FGM", True, source="patient-flags")


def fgm_picture(*records):
    return {**NO_CONCERNS, "checkpoint": "discharge", "records": list(records)}


def d14_asked(picture, gender):
    q = load("discharge")
    found = {
        tuple(run(q, "D14-fgm-is", EXT_ENABLE, picture, model=m, patient={**PATIENT, "gender": gender}))
        for m in (None, models["r4"])
    }
    assert len(found) == 1, found
    return list(found.pop()) == [True]


@pytest.mark.parametrize(
    ("records", "gender", "asked"),
    [
        ((FGM_MOTHER,), "female", True),
        ((FGM_MOTHER, FGM_IS_SISTER), "female", True),
        ((FGM_MOTHER,), "male", False),
        ((FGM_MOTHER,), "unknown", False),
        ((), "female", False),
        ((FGM_IS_SISTER,), "female", False),  # the mother's record must show FGM (a sister's flag alone does not)
        ((record("fgm", "sibling", "FGM", "Female Genital Mutilation Flag", True),), "female", False),
    ],
    ids=[
        "girl, mother FGM",
        "and a sister flagged",
        "boy",
        "gender unknown",
        "nothing",
        "sister only",
        "FGM on sibling",
    ],
)
def test_d14_asks_about_the_fgm_is_flag_only_for_a_girl_whose_mother_has_had_fgm(records, gender, asked):
    assert d14_asked(fgm_picture(*records), gender) is asked


def test_d14_is_pre_filled_yes_only_when_the_baby_has_a_current_fgm_is_flag():
    q = load("discharge")
    link = "D14-fgm-is.flag-added"
    flagged = run(q, link, EXT_INITIAL, fgm_picture(FGM_MOTHER, FGM_IS_BABY))
    assert [c["code"] for c in flagged] == ["yes"]
    assert run(q, link, EXT_INITIAL, fgm_picture(FGM_MOTHER, FGM_IS_SISTER)) == []  # never "No": left to the nurse
    ended = {**FGM_IS_BABY, "current": False}
    assert run(q, link, EXT_INITIAL, fgm_picture(FGM_MOTHER, ended)) == []
    plan = find(q, "D14-fgm-is.plan")
    assert plan["required"] is True and plan["enableWhen"][0]["operator"] == "!="


def review_notes(name: str) -> str:
    """The README's review notes for one checklist: where the proposals and references moved from its help texts."""
    readme = (ROOT / "checklists" / "README.md").read_text(encoding="utf-8")
    return readme.split(f"### Review notes: {name} ", 1)[1].split("\n### ", 1)[0]


def test_proposals_are_marked_for_clinical_review():
    """Marked where a clinical safety lead reads them (the README's review notes), not on the form (lint)."""
    notes = {name: review_notes(name) for name in CHECKLISTS}
    for name in CHECKLISTS:
        assert "Proposal for clinical review" in notes[name], name
        assert "Proposal for clinical review" not in json.dumps(load(name)), name
    assert "within 24 h" in notes["admission"] and "72 h" in notes["admission"]
    assert "day 7" in notes["admission"]
    assert "blocked" in notes["discharge"]
