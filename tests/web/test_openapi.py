"""The OpenAPI schema tells the truth: every error an /api route answers is declared with the body errors.py
writes, the NHS number declares its rule, and the docs and the schema are for signed-in users only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from app.web.api import NHS_NUMBER_PATTERN
from app.web.api_models import NotFoundProblem, OperationOutcome, Problem
from app.web.deps import valid_nhs_number
from tests.families import CASE_V_BABY

REF = "#/components/schemas/"
EVERY_ROUTE = {"401", "403", "413", "500", "503"}  # bad token, role, body too large, a crash, sign-in service down
TAKES_A_CHECKLIST = {  # where a QuestionnaireResponse refused is an OperationOutcome
    ("put", "/api/patients/{number}/checklists/{checkpoint}/draft"),
    ("post", "/api/patients/{number}/checklists/{checkpoint}/draft/refresh"),
    ("post", "/api/patients/{number}/assessments"),
    ("post", "/api/patients/{number}/assessments/{assessment_id}/amendments"),
}
NOT_A_BABY = "9990000018"  # a valid NHS number no sandbox source holds


@contextmanager
def signed_in(url: str, role: str = "nurse") -> Iterator[httpx.Client]:
    """A browser's view of NeoSafe: signed in on the sign-in page, with the session cookie it set."""
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/sign-in", data={"role": role}).status_code == 303
        yield client


@pytest.fixture(scope="module")
def schema(live) -> dict[str, Any]:
    with live.client("nurse") as api:
        return api.get("/openapi.json").raise_for_status().json()


def api_operations(schema: dict[str, Any]):
    for path, operations in schema["paths"].items():
        if path.startswith("/api/"):
            for method, operation in operations.items():
                yield method, path, operation


def body_schema(response: dict[str, Any], media_type: str = "application/json") -> str:
    return response["content"][media_type]["schema"]["$ref"].removeprefix(REF)


def test_every_api_operation_declares_a_bearer_token_and_the_refusals_of_every_route(schema):
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    operations = list(api_operations(schema))
    assert len(operations) >= 12
    for method, path, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation["security"] == [{"bearer": []}], where
        assert set(operation["responses"]) >= EVERY_ROUTE, where
        assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True, where
        for code in EVERY_ROUTE:
            assert body_schema(operation["responses"][code]) == "Problem", (where, code)


def test_a_422_declares_the_body_errors_py_really_sends_never_fastapis_default(schema):
    assert not {"HTTPValidationError", "ValidationError"} & set(schema["components"]["schemas"])
    for method, path, operation in api_operations(schema):
        where = f"{method.upper()} {path}"
        if "{number}" not in path:
            assert "422" not in operation["responses"], where  # nothing in it can be invalid
            continue
        refused = operation["responses"]["422"]
        assert body_schema(refused) == "Problem", where
        if (method, path) in TAKES_A_CHECKLIST:
            assert body_schema(refused, "application/fhir+json") == "OperationOutcome", where
        else:
            assert set(refused["content"]) == {"application/json"}, where
    outcome = schema["components"]["schemas"]["OperationOutcome"]
    assert outcome["required"] == ["resourceType", "issue"]
    assert outcome["properties"]["issue"]["items"]["$ref"] == REF + "OperationOutcomeIssue"
    assert "OperationOutcomeIssue" in schema["components"]["schemas"]


def test_the_422_bodies_are_the_declared_ones(live):
    with live.client("nurse") as api:
        bad_number = api.get("/api/patients/1234567890/picture")
        bad_query = api.get(f"/api/patients/{CASE_V_BABY}/picture", params={"checkpoint": "lunch"})
        not_fhir = api.post(f"/api/patients/{CASE_V_BABY}/assessments", json={"resourceType": "Nonsense"})
        not_json = api.post(
            f"/api/patients/{CASE_V_BABY}/assessments", content=b"{", headers={"Content-Type": "application/json"}
        )

    for problem in (bad_number, bad_query, not_json):
        assert problem.status_code == 422 and problem.headers["content-type"] == "application/json"
        Problem.model_validate(problem.json(), strict=True)
    assert "not a valid NHS number" in bad_number.json()["detail"]
    assert not_fhir.status_code == 422 and not_fhir.headers["content-type"] == "application/fhir+json"
    OperationOutcome.model_validate(not_fhir.json(), strict=True)


def test_the_nhs_number_declares_its_pattern_which_is_the_rule_valid_nhs_number_keeps(schema):
    numbers = [
        parameter["schema"]
        for _, path, operation in api_operations(schema)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["name"] == "number"
    ]
    assert len(numbers) == sum("{number}" in path for _, path, _ in api_operations(schema)) >= 11
    assert all(n["pattern"] == NHS_NUMBER_PATTERN and n["type"] == "string" for n in numbers)

    pattern = re.compile(NHS_NUMBER_PATTERN.removesuffix("$") + r"\Z")  # JSON Schema's $ is the end, never a \n
    for written in ("9990101000", "999 010 1000", "999-010-1000", "999010 1000"):
        assert pattern.match(written) and valid_nhs_number(written) == CASE_V_BABY
    for written in (
        "\u0669\u0669\u0669\u0660\u0661\u0660\u0661\u0660\u0660\u0660",  # Arabic-Indic digits
        "\uff19\uff19\uff19\uff10\uff11\uff10\uff11\uff10\uff10\uff10",  # full-width digits
        "-9990101000",
        "999--0101000",
        "9 9 9 0 1 0 1 0 0 0",
        "9990101000\n",
    ):
        assert not pattern.match(written), written


def test_an_unknown_baby_assessment_or_checkpoint_is_a_declared_404(live, schema):
    with live.client("nurse") as api:
        no_baby = api.get(f"/api/patients/{NOT_A_BABY}/picture")
        no_checklist = api.get(f"/api/patients/{CASE_V_BABY}/assessments/no-such-checklist/versions")
        no_checkpoint = api.get("/api/checklists/lunch")
        no_draft = api.get(f"/api/patients/{NOT_A_BABY}/checklists/admission/draft")

    assert no_baby.status_code == 404
    asked = NotFoundProblem.model_validate(no_baby.json(), strict=True).sources or []
    assert {source.name for source in asked} >= {"neonatal", "maternity"}
    for refused in (no_checklist, no_checkpoint, no_draft):
        assert refused.status_code == 404, refused.text
        assert NotFoundProblem.model_validate(refused.json(), strict=True).sources is None
    for method, path, operation in api_operations(schema):
        assert body_schema(operation["responses"]["404"]) == "NotFoundProblem", f"{method.upper()} {path}"


def test_the_docs_and_the_schema_need_a_sign_in_and_there_is_no_redoc(live):
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        docs = anonymous.get("/docs")
        schema = anonymous.get("/openapi.json")
        assert anonymous.get("/redoc").status_code == 404

    assert docs.status_code == 303 and docs.headers["location"] == "/sign-in?next=%2Fdocs"
    assert schema.status_code == 401 and schema.headers["www-authenticate"] == "Bearer"
    Problem.model_validate(schema.json(), strict=True)

    with signed_in(live.url) as browser, live.client("nurse") as api:
        page = browser.get("/docs")
        served = browser.get("/openapi.json")
        assert served.status_code == 200 and served.json() == api.get("/openapi.json").json()
        assert browser.get("/redoc").status_code == 404
        home = browser.get("/")
        scripts = re.findall(r'<script src="([^"]+)"', page.text)
        for asset in scripts + re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text):
            fetched = browser.get(asset)
            assert fetched.status_code == 200 and fetched.headers["content-type"].startswith(("text/", "application/"))

    assert page.status_code == 200
    assert scripts == ["/assets/swagger-ui/swagger-ui-bundle.js", "/static/docs.js"]  # NeoSafe's own, no CDN
    assert "<script>" not in page.text and "http" not in " ".join(scripts)
    assert page.headers["content-security-policy"] == home.headers["content-security-policy"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
