"""Static checks on the synthetic sandbox data in sandbox/families (no server needed).

Layout: sandbox/families/<NN>-<slug>/<source>.json, one FHIR R4 transaction Bundle per family per source.
00-unit/neonatal.json holds resources shared by every family on the neonatal source (the trust and the NICU
Location); it is seeded first, so references may resolve within their own file or within 00-unit of the same source.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import nhs_number
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

FAMILIES = Path(__file__).resolve().parents[2] / "sandbox" / "families"
UNIT_DIR = "00-unit"
TODAY = "2026-11-26"

PREFIX = {
    "neonatal": "nn-",
    "maternity": "mat-",
    "social-care": "sc-",
    "cpis": "cpis-",
    "police-gp": "pg-",
}
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
SCT = "http://snomed.info/sct"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
REF_RE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})")

# The only SNOMED CT concepts the sandbox may use (the data contract's categories), with their displays.
SNOMED = {
    # child-protection
    "342191000000101": "Subject to child protection plan",
    "818901000000100": "Unborn child subject to child protection plan",
    "1064311000000109": "Child protection plan",
    "224353004": "Child protection finding",
    "864491000000105": "Has child subject of child protection plan",
    "375041000000100": "Family member subject of child protection plan",
    # looked-after
    "764841000000100": "Looked after child",
    # social-care
    "135891007": "Child in need",
    "836931000000102": "Subject of child in need plan",
    "160770002": "Social worker involved",
    "405775000": "Under care of social worker",
    "169944002": "Mother has a social worker",
    "306238000": "Referral to Social Services",
    "380491000000101": "Referral to child protection service",
    "514341000000108": "Referral to safeguarding children team",
    # domestic-abuse
    "371772001": "Domestic abuse",
    "429746005": "History of domestic abuse",
    "879911000000102": "Victim of domestic abuse",
    "881081000000100": "Domestic abuse victim in household",
    "697950003": "Suspected domestic abuse",
    "707087005": "At risk of domestic violence",
    "895141000000105": "Police domestic incident report received",
    "758941000000108": "Subject of multi-agency risk assessment conference",
    "978091000000105": "Referral to multi-agency risk assessment conference",
    "886201000000108": "Assessment using DASH (Domestic Abuse, Stalking and Harassment and Honour Based Violence) "
    "2009 Risk Checklist",
    # da-enquiry
    "700410005": "Routine enquiry about domestic abuse",
    "700411009": "Routine enquiry about domestic abuse declined",
    # substance-misuse
    "713071004": "Alcohol misuser in household",
    "789612004": "Alcohol abuse by mother",
    "722417007": "Alcohol abuse by father",
    "713070003": "Drug misuser in household",
    "442080007": "Drug misuse by mother",
    "439213009": "Drug misuse by father",
    "206572008": "Neonatal withdrawal symptoms from maternal use of drugs of addiction",
    # mental-health
    "1038261000000100": "Maternal postnatal depression",
    "300894000": "Parental anxiety",
    # safeguarding-concern
    "1010196001": "Safeguarding concern",
    "836881000000105": "Child is cause for safeguarding concern",
    "878111000000109": "Unborn child is cause for safeguarding concern",
    "1076171000000104": "Carer behaviour is cause for safeguarding concern",
    # interpreter
    "315594003": "Interpreter needed",
    "203901000000102": "Polish language interpreter needed",
    "353881000000101": "Romanian language interpreter needed",
    "203721000000108": "Lithuanian language interpreter needed",
    # gestation at birth (not a safeguarding category: what makes a baby preterm)
    "412726003": "Length of gestation at birth",
}
# Family 14's mother has no NHS number yet: maternity knows her by its hospital number only.
WITHOUT_NHS_NUMBER = {"mat-nonhs-mother"}
# Family 15's father's NHS number is someone else's: police-gp holds it under that stranger's name and birth date.
BORROWED_NHS_NUMBERS = {"9991503005"}
DOMESTIC_ABUSE = {
    "371772001",
    "429746005",
    "879911000000102",
    "881081000000100",
    "697950003",
    "707087005",
    "895141000000105",
    "758941000000108",
    "978091000000105",
    "886201000000108",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


FILES = sorted(FAMILIES.glob("*/*.json"))
DATA = {p: _load(p) for p in FILES}


def _rel(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _resources(path: Path) -> list[dict]:
    return [e["resource"] for e in DATA[path].get("entry", [])]


def _walk(node):
    """Yield every dict nested anywhere in node."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _codings(resource: dict):
    for d in _walk(resource):
        if "system" in d and "code" in d:
            yield d


def _nhs_numbers(resource: dict) -> list[str]:
    return [i["value"] for i in resource.get("identifier", []) if i.get("system") == NHS_SYSTEM]


def _keys(path: Path) -> set[str]:
    return {f"{r['resourceType']}/{r['id']}" for r in _resources(path)}


files = pytest.mark.parametrize("path", FILES, ids=_rel)


def _has_domestic_abuse_code(resource: dict) -> bool:
    return any(c["system"] == SCT and c["code"] in DOMESTIC_ABUSE for c in _codings(resource))


# Checks that apply only to some files are parametrised over exactly those files, computed here at collection
# time, so that no case passes without checking anything; test_layout checks these lists are what they should be.
NEONATAL_FAMILY_FILES = [p for p in FILES if p.stem == "neonatal" and p.parent.name != UNIT_DIR]
POLICE_GP_DOMESTIC_ABUSE_RECORDS = [
    pytest.param(r, id=f"{_rel(p)}:{r['id']}")
    for p in FILES
    if p.stem == "police-gp"
    for r in _resources(p)
    if _has_domestic_abuse_code(r)
]


def test_layout():
    assert FILES, "no sandbox bundles found"
    families = {p.parent.name for p in FILES}
    for name in ("00-unit", "01-case-v", "02-no-concerns", "04-active-cp"):
        assert name in families
    assert [p.name for p in FILES if p.parent.name == UNIT_DIR] == ["neonatal.json"]
    for path in FILES:
        assert re.fullmatch(r"\d{2}-[a-z0-9-]+", path.parent.name), path
        assert path.stem in PREFIX, path
    for fam in families - {UNIT_DIR}:
        assert (FAMILIES / fam / "neonatal.json").exists(), f"{fam} has no neonatal bundle"
    assert {p.parent.name for p in NEONATAL_FAMILY_FILES} == families - {UNIT_DIR}
    assert any(param.id.startswith("01-case-v/police-gp.json:") for param in POLICE_GP_DOMESTIC_ABUSE_RECORDS)
    assert not list(FAMILIES.parent.parent.joinpath("tests", "sandbox").glob("__init__.py"))


@files
def test_bundle_and_resources_parse_as_r4b(path):
    data = DATA[path]
    assert data["resourceType"] == "Bundle" and data["type"] == "transaction"
    Bundle.model_validate(data)
    assert data["entry"], "empty bundle"
    for entry in data["entry"]:
        res = entry["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(res)


def _empty_elements(value, where="Bundle"):
    """FHIR elements may not be empty (ele-1): no [], {} or "" anywhere."""
    if value in ([], {}, ""):
        yield where
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _empty_elements(child, f"{where}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _empty_elements(child, f"{where}[{index}]")


@files
def test_no_empty_elements(path):
    assert list(_empty_elements(json.loads(path.read_text()))) == []


@files
def test_entries_are_idempotent_puts(path):
    for entry in DATA[path]["entry"]:
        res, req = entry["resource"], entry["request"]
        assert ID_RE.fullmatch(res["id"]), res["id"]
        assert req == {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}


@files
def test_ids_carry_their_source_prefix(path):
    prefix = PREFIX[path.stem]
    for res in _resources(path):
        assert res["id"].startswith(prefix), f"{_rel(path)}: {res['id']} lacks {prefix}"


def test_no_id_in_two_files():
    seen: dict[str, str] = {}
    for path in FILES:
        for res in _resources(path):
            assert res["id"] not in seen, f"{res['id']} in {seen.get(res['id'])} and {_rel(path)}"
            seen[res["id"]] = _rel(path)


@files
def test_references_resolve_in_file_or_unit(path):
    local = _keys(path)
    unit_file = FAMILIES / UNIT_DIR / path.name
    shared = _keys(unit_file) if unit_file in DATA else set()
    for res in _resources(path):
        for d in _walk(res):
            if "reference" in d:
                m = REF_RE.fullmatch(d["reference"])
                assert m, f"{res['id']}: not a relative Type/id reference: {d['reference']}"
                assert d["reference"] in local | shared, f"{_rel(path)} {res['id']}: dangling {d['reference']}"


@files
def test_patients_are_complete(path):
    for res in _resources(path):
        if res["resourceType"] != "Patient":
            continue
        assert _nhs_numbers(res) or (res["id"] in WITHOUT_NHS_NUMBER and res["identifier"]), res["id"]
        assert res["name"][0]["given"] and res["name"][0]["family"], res["id"]
        assert res["birthDate"] and res["gender"] in (
            "male",
            "female",
            "other",
            "unknown",
        ), res["id"]


def test_nhs_numbers_are_valid_test_numbers_and_one_per_person():
    people: dict[str, set] = defaultdict(set)
    families: dict[str, set] = defaultdict(set)
    dobs: dict[str, set] = defaultdict(set)
    for path in FILES:
        for res in _resources(path):
            if res["resourceType"] not in ("Patient", "RelatedPerson"):
                continue
            for n in _nhs_numbers(res):
                assert re.fullmatch(r"\d{10}", n) and 9990000000 <= int(n) <= 9999999999, n
                assert nhs_number.is_valid(n), n
                name = res["name"][0]
                people[n].add((" ".join(name["given"]), name["family"], res.get("gender")))
                families[n].add(path.parent.name)
                if res.get("birthDate"):
                    dobs[n].add(res["birthDate"])
    assert people
    assert {n for n, identities in people.items() if len(identities) == 2} >= BORROWED_NHS_NUMBERS
    for n, identities in people.items():
        if n in BORROWED_NHS_NUMBERS:
            continue
        assert len(identities) == 1, f"NHS number {n} names different people: {identities}"
        assert len(families[n]) == 1, f"NHS number {n} used in several families: {families[n]}"
        assert len(dobs[n]) <= 1, f"NHS number {n} has several birth dates: {dobs[n]}"


@files
def test_only_listed_snomed_codes(path):
    for res in _resources(path):
        for c in _codings(res):
            if c["system"] == SCT:
                assert c["code"] in SNOMED, f"{res['id']}: SNOMED {c['code']} is not in the code lists"
                assert c.get("display") == SNOMED[c["code"]], f"{res['id']}: display for {c['code']}"


@files
def test_no_dates_after_today(path):
    for res in _resources(path):
        for d in _walk(res):
            for k, v in d.items():
                if isinstance(v, str) and k in (
                    "start",
                    "end",
                    "birthDate",
                    "onsetDateTime",
                    "abatementDateTime",
                    "recordedDate",
                    "effectiveDateTime",
                    "sent",
                    "authoredOn",
                ):
                    m = DATE_RE.match(v)
                    assert m and m.group(1) <= TODAY, f"{res['id']}.{k} = {v}"


@files
def test_status_and_period_agree(path):
    for res in _resources(path):
        rt, end = res["resourceType"], res.get("period", {}).get("end")
        if rt == "Flag":
            assert res["status"] in ("active", "inactive", "entered-in-error")
            assert bool(end) == (res["status"] == "inactive"), res["id"]
        elif rt == "EpisodeOfCare":
            assert bool(end) == (res["status"] == "finished"), res["id"]
            assert res["type"] and res["managingOrganization"] and res["careManager"], res["id"]
        elif rt == "CarePlan":
            assert bool(end) == (res["status"] == "completed"), res["id"]
            assert res["intent"] == "plan" and res["author"], res["id"]
        elif rt == "Condition":
            resolved = res["clinicalStatus"]["coding"][0]["code"] == "resolved"
            assert resolved == ("abatementDateTime" in res), res["id"]


STATUSES = {
    "Flag": {"active", "inactive", "entered-in-error"},
    "Observation": {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
    "Communication": {
        "preparation",
        "in-progress",
        "not-done",
        "on-hold",
        "stopped",
        "completed",
        "entered-in-error",
        "unknown",
    },
    "EpisodeOfCare": {
        "planned",
        "waitlist",
        "active",
        "onhold",
        "finished",
        "cancelled",
        "entered-in-error",
    },
    "CarePlan": {
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    },
    "ServiceRequest": {
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    },
    "Encounter": {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    },
}
RELATIONSHIPS = {
    "http://terminology.hl7.org/CodeSystem/v3-RoleCode": {
        "MTH",
        "NMTH",
        "GESTM",
        "FTH",
        "NFTH",
        "STPFTH",
        "DOMPART",
        "SIGOTHR",
        "SIB",
        "BRO",
        "SIS",
        "TWIN",
        "CHILD",
        "SONC",
        "DAUC",
        "NCHILD",
    },
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdditionalPersonRelationshipRole": {
        "Carer",
        "Guardian",
    },
}


@files
def test_status_and_relationship_codes_are_valid(path):
    # the R4B models do not check required code bindings, so check the ones NeoSafe relies on here
    for res in _resources(path):
        rt = res["resourceType"]
        if rt in STATUSES:
            assert res["status"] in STATUSES[rt], f"{res['id']}: status {res['status']}"
        if rt == "Condition":
            assert res["clinicalStatus"]["coding"][0]["code"] in {
                "active",
                "recurrence",
                "relapse",
                "inactive",
                "remission",
                "resolved",
            }, res["id"]
            assert res["verificationStatus"]["coding"][0]["code"] == "confirmed", res["id"]
        if rt == "RelatedPerson":
            for rel in res["relationship"]:
                for c in rel["coding"]:
                    assert c["code"] in RELATIONSHIPS.get(c["system"], set()), f"{res['id']}: {c}"
        if rt == "CarePlan":
            cats = {(c["system"], c["code"]) for cat in res["category"] for c in cat["coding"]}
            assert cats & {
                ("https://fhir.nhs.uk/R4/CodeSystem/CPIS-ObservationType", k) for k in ("CPPI", "LACI", "UCPI")
            }, res["id"]


@pytest.mark.parametrize("res", POLICE_GP_DOMESTIC_ABUSE_RECORDS)
def test_police_gp_domestic_abuse_detail_is_restricted(res):
    security = {(s["system"], s["code"]) for s in res.get("meta", {}).get("security", [])}
    assert (CONFIDENTIALITY, "R") in security or (CONFIDENTIALITY, "V") in security, res["id"]


@pytest.mark.parametrize("path", NEONATAL_FAMILY_FILES, ids=_rel)
def test_neonatal_family_file_has_baby_and_open_nicu_encounter(path):
    # one baby per family, or several (twins): each baby has exactly one open NICU Encounter
    resources = _resources(path)
    babies = {f"Patient/{r['id']}" for r in resources if r["resourceType"] == "Patient"}
    encounters = [r for r in resources if r["resourceType"] == "Encounter"]
    assert babies and len(encounters) == len(babies)
    assert {enc["subject"]["reference"] for enc in encounters} == babies
    for enc in encounters:
        assert enc["status"] == "in-progress" and enc["class"]["code"] == "IMP", enc["id"]
        assert re.search(r"T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)$", enc["period"]["start"]), enc["id"]
        assert enc["location"][0]["location"]["reference"] == "Location/nn-nicu", enc["id"]
    for rp in (r for r in resources if r["resourceType"] == "RelatedPerson"):
        assert rp["patient"]["reference"] in babies, rp["id"]


def test_case_v_carries_the_traps_neosafe_must_handle():
    fam = FAMILIES / "01-case-v"
    police = _resources(fam / "police-gp.json")
    everything = [r for p in FILES if p.parent == fam for r in _resources(p)]
    assert any(r.get("status") == "entered-in-error" for r in police)
    second_coding_only = False
    for r in everything:
        for d in _walk(r):
            codings = d.get("coding") if isinstance(d.get("coding"), list) else None
            if codings and len(codings) >= 2 and codings[0]["system"] != SCT and codings[1]["system"] == SCT:
                second_coding_only = True
    assert second_coding_only, "no record whose listed SNOMED code is only its second coding"
    uncategorised = [
        r
        for r in everything
        if r["resourceType"] == "Flag" and not any(c["system"] == SCT for c in r["code"]["coding"])
    ]
    assert uncategorised, "no Flag with an unlisted (local) code"
    assert any(s["code"] == "R" for r in police for s in r.get("meta", {}).get("security", []))
    cpis = _resources(fam / "cpis.json")
    assert not [r for r in cpis if r["resourceType"] == "CarePlan"], "Case V must be CP-IS negative"
