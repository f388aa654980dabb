"""`neosafe checklists lint` passes on the real checklists and fails loudly, one line per problem, on broken copies."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.forms.extensions import ENABLE_WHEN_EXPRESSION, MIN_OCCURS
from app.forms.lint import lint_checklists, verhoeff_ok
from tests.lint_command import lint_refusals

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS, MAPPINGS = ROOT / "checklists", ROOT / "fhir_mappings"
SNOMED = "http://snomed.info/sct"


def find(q: dict, link_id: str) -> dict:
    stack = list(q["item"])
    while stack:
        item = stack.pop()
        if item["linkId"] == link_id:
            return item
        stack.extend(item.get("item") or [])
    raise KeyError(link_id)


def expression_of(q: dict, link_id: str) -> dict:
    return next(e["valueExpression"] for e in find(q, link_id)["extension"] if "valueExpression" in e)


def set_expression(link_id: str, text: str) -> Callable[[dict], None]:
    return lambda q: expression_of(q, link_id).update(expression=text)


def add_extension(link_id: str, extension: dict) -> Callable[[dict], None]:
    return lambda q: find(q, link_id).setdefault("extension", []).append(extension)


def update(link_id: str, **fields) -> Callable[[dict], None]:
    return lambda q: find(q, link_id).update(fields)


def replace_answer(when: dict, **answer) -> None:
    for key in [k for k in when if k.startswith("answer")]:
        del when[key]
    when.update(answer)


def first_code(link_id: str) -> Callable[[dict], dict]:
    return lambda q: find(q, link_id)["code"][0]


# (what breaks, how, the line lint must print)
BREAKAGES = [
    (
        "not R4",
        lambda q: q.update(date="26/11/2026"),
        "admission.json: Questionnaire: not a valid FHIR R4 Questionnaire",
    ),
    ("no version", lambda q: q.pop("version"), "admission.json: Questionnaire: needs both url and version"),
    (
        "duplicate linkId",
        update("A10-concern-now.details", linkId="A10-concern-now.concern"),
        "admission.json: A10-concern-now.concern: linkId is used more than once",
    ),
    (
        "enableWhen on nothing",
        lambda q: find(q, "A10-concern-now.details")["enableWhen"][0].update(question="A10-gone"),
        "admission.json: A10-concern-now.details: enableWhen refers to 'A10-gone', which no item has",
    ),
    (
        "enableWhen answer not an option",
        lambda q: find(q, "A3-current-social-care")["enableWhen"][0]["answerCoding"].update(code="social-care-maybe"),
        "admission.json: A3-current-social-care: enableWhen answer social-care-maybe is not an option of",
    ),
    (
        "enableWhen with two answers",
        lambda q: find(q, "A10-concern-now.details")["enableWhen"][0].update(answerInteger=1),
        "admission.json: Questionnaire: not a valid FHIR R4 Questionnaire: item.9.item.2.enableWhen",
    ),
    (
        "enableWhen answer that cannot match",
        lambda q: replace_answer(find(q, "A10-concern-now.details")["enableWhen"][0], answerInteger=1),
        "enableWhen answerInteger cannot match 'A10-concern-now.concern', a boolean",
    ),
    (
        "expression names a missing linkId",
        set_expression("A9-da-risk-assessment", "%resource.repeat(item).where(linkId = 'A8-gone').exists()"),
        "admission.json: A9-da-risk-assessment: expression names linkId 'A8-gone', which no item has",
    ),
    (
        "unknown variable",
        set_expression("A8-da-enquiry-private", "%pictur.records.exists()"),
        "admission.json: A8-da-enquiry-private: %pictur is not a launch context",
    ),
    (
        "population variable outside pre-fill",
        add_extension(
            "A4-household.person.name",
            {
                "url": ENABLE_WHEN_EXPRESSION,
                "valueExpression": {"language": "text/fhirpath", "expression": "%person.exists()"},
            },
        ),
        "(population variables exist only while pre-filling)",
    ),
    (
        "population variable out of scope",
        set_expression("A6-parental-risk-factors.parent.name", "%person.name"),
        "admission.json: A6-parental-risk-factors.parent.name: %person is not a launch context",
    ),
    (
        "unknown function",
        set_expression("A8-da-enquiry-private", "%picture.records.exist()"),
        "admission.json: A8-da-enquiry-private: FHIRPath function exist() does not exist in fhirpathpy",
    ),
    (
        "wrong number of arguments",
        set_expression("A8-da-enquiry-private", "%picture.records.where()"),
        "admission.json: A8-da-enquiry-private: FHIRPath function where() does not take 0 argument(s)",
    ),
    (
        "syntax error fhirpathpy would swallow",
        set_expression("A8-da-enquiry-private", "%picture.records.where(category = 'domestic-abuse'"),
        "admission.json: A8-da-enquiry-private: FHIRPath does not parse",
    ),
    (
        "unverified SNOMED code",
        lambda q: first_code("A10-concern-now.concern")(q).update(system=SNOMED, code="22298006", display="MI"),
        "admission.json: A10-concern-now.concern: SNOMED CT 22298006 is not in fhir_mappings/verified-snomed.toml",
    ),
    (
        "NeoSafe code not defined",
        lambda q: first_code("A10-concern-now.concern")(q).update(code="made-up-concern"),
        "admission.json: A10-concern-now.concern: made-up-concern is not defined in",
    ),
    (
        "code without a system",
        lambda q: first_code("A10-concern-now.concern")(q).pop("system"),
        "admission.json: A10-concern-now.concern: a code needs both system and code",
    ),
    (
        "extracted question without a code",
        lambda q: find(q, "A10-concern-now.concern").pop("code"),
        "admission.json: A10-concern-now.concern: is extracted (observationExtract) but has no code",
    ),
    (
        "extension the engine ignores",
        add_extension(
            "A9-da-risk-assessment.dash-score",
            {
                "url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
                "valueExpression": {"language": "text/fhirpath", "expression": "1"},
            },
        ),
        "sdc-questionnaire-calculatedExpression is not implemented by the form engine",
    ),
    (
        "minOccurs on an optional item",
        lambda q: (
            update("A10-concern-now.concern", required=False)(q),
            add_extension("A10-concern-now.concern", {"url": MIN_OCCURS, "valueInteger": 2})(q),
        ),
        "admission.json: A10-concern-now.concern: minOccurs is used only on a required item",
    ),
    (
        "unsupported type",
        update("A10-concern-now.details", type="attachment"),
        "type 'attachment' is not one the form can draw",
    ),
]


def broken_copy(tmp_path: Path, change: Callable[[dict], object]) -> Path:
    folder = tmp_path / "checklists"
    shutil.copytree(CHECKLISTS, folder, ignore=shutil.ignore_patterns("*.md"))
    admission = json.loads((folder / "admission.json").read_text())
    change(admission)
    (folder / "admission.json").write_text(json.dumps(admission))
    return folder


def test_the_real_checklists_have_no_problem():
    assert [str(p) for p in lint_checklists(CHECKLISTS, MAPPINGS)] == []


def test_the_command_passes_on_the_real_checklists(capsys):
    main(["checklists", "lint"])

    count = len(list(CHECKLISTS.rglob("*.json")))
    assert capsys.readouterr().out == f"neosafe checklists lint: {count} checklists, no problems\n"


@pytest.mark.parametrize(("case", "change", "line"), BREAKAGES, ids=[b[0] for b in BREAKAGES])
def test_the_command_fails_loudly_on_a_broken_copy(tmp_path, capsys, case, change, line):
    folder = broken_copy(tmp_path, change)

    lines = lint_refusals(capsys, folder, MAPPINGS)

    assert lines and all(x.startswith("neosafe checklists lint: ") for x in lines)
    assert any(line in x for x in lines), lines
    assert all("admission.json" in x for x in lines)  # the other checklists are untouched and pass


def test_a_folder_without_checklists_is_a_problem(tmp_path):
    assert [p.message for p in lint_checklists(tmp_path, MAPPINGS)] == ["no checklists (*.json) found"]


def test_a_file_that_is_not_json_is_named(tmp_path):
    (tmp_path / "admission.json").write_text("{not json")

    assert [p.file for p in lint_checklists(tmp_path, MAPPINGS)] == ["admission.json"]


@pytest.mark.parametrize(
    ("sctid", "ok"),
    [("342191000000101", True), ("1076171000000104", True), ("1076171000000100", False), ("22298006", True)],
)
def test_the_snomed_check_digit(sctid, ok):
    assert verhoeff_ok(sctid) is ok


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        (
            "tasks.toml",
            '[[tasks]]\ncheckpoint = "discharge"\nitem = "D99-gone"\ndescription = "x"\nowner = "y"\ndue = "P0D"\n',
            "the discharge checklist has no item 'D99-gone'",
        ),
        (
            "handover.toml",
            '[[sections]]\ntitle = "Carers"\nitems = ["discharge:D99-gone"]\n',
            "'discharge:D99-gone': the discharge checklist has no top-level item 'D99-gone'",
        ),
    ],
)
def test_the_command_fails_on_a_rule_naming_an_item_no_checklist_has(tmp_path, capsys, name, text, line):
    mappings = tmp_path / "fhir_mappings"
    shutil.copytree(MAPPINGS, mappings)
    rules = mappings / name
    rules.write_text(rules.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")  # one rule more, broken

    with pytest.raises(SystemExit) as exited:
        main(["checklists", "lint", "--checklists", str(CHECKLISTS), "--mappings", str(mappings)])

    assert exited.value.code == 1
    [problem] = capsys.readouterr().err.splitlines()
    assert problem.startswith(f"neosafe checklists lint: {name}, ") and problem.endswith(line)
