"""Schemathesis against a live NeoSafe over HTTP: whatever a client sends, no 5xx, and every answer is one the
OpenAPI schema declares (status code, content type, headers, body).

The schema is NeoSafe's own, and the one a running NeoSafe serves to a bearer token (checked). Requests are generated
from it, with the NHS numbers mostly the sandbox families' (valid, in each way one may be written; else the
schema's own: the pattern, any check digit), the checkpoint mostly a real one, the assessment mostly one this
module saved, the caller any role, and a POST or PUT body sometimes a real checklist response, completed as a
careful clinician would (tests/answering.py), for this module's own baby. The NeoSafe is this module's own (its
own database), so what it stores touches no other test; what it writes to the sandbox's unit record is only
about its own baby, and is deleted afterwards.

Bounded and repeatable: a fixed number of examples per operation, a deadline per request, a fixed seed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.checkpoints import DEMO_USERS
from app.config import Settings
from app.forms import CHECKPOINTS
from app.main import create_app
from app.web import issue_token
from tests import families
from tests.answering import completed
from tests.conftest import SECRET, make_settings
from tests.factories import create_baby
from tests.servers import serving
from tests.written import delete_written

EXAMPLES = 8  # per operation
SEED = 11  # issue 11
REQUEST_TIMEOUT_S = 30  # one request; a picture asks five sources
FAMILIES = sorted({v for k, v in vars(families).items() if k.isupper() and isinstance(v, str)})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
TAKES_A_RESPONSE = re.compile(r"/(assessments|amendments|draft)$")


@dataclass
class Unit:
    """This module's own NeoSafe and baby, with a checklist saved and a draft kept for each checkpoint."""

    url: str
    baby: str
    saved: dict[str, str] = field(default_factory=dict)  # checkpoint -> assessment id
    completed: dict[str, dict] = field(default_factory=dict)  # checkpoint -> a complete QuestionnaireResponse
    created: set[str] = field(default_factory=set)  # every assessment stored: what it wrote is deleted afterwards

    def api(self, role: str = "nurse") -> httpx.Client:
        headers = {"Authorization": f"Bearer {issue_token(DEMO_USERS[role], secret=SECRET)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=REQUEST_TIMEOUT_S)


@pytest.fixture(scope="module")
def unit(sources, sandbox, tmp_path_factory) -> Iterator[Unit]:
    with httpx.Client(base_url=sandbox.urls["neonatal"] + "/", timeout=30) as neonatal:
        baby = create_baby(neonatal)
        with serving(create_app(make_settings(tmp_path_factory.mktemp("schemathesis")), sources=sources)) as url:
            unit = Unit(url, baby)
            with unit.api() as nurse:
                for checkpoint in CHECKPOINTS:
                    unit.completed[checkpoint] = completed(nurse, baby, checkpoint)
                    created = nurse.post(f"/api/patients/{baby}/assessments", json=unit.completed[checkpoint])
                    unit.saved[checkpoint] = created.raise_for_status().json()["id"]
                    draft = nurse.get(f"/api/patients/{baby}/checklists/{checkpoint}").raise_for_status().json()
                    nurse.put(f"/api/patients/{baby}/checklists/{checkpoint}/draft", json=draft).raise_for_status()
            yield unit
            with unit.api() as nurse:
                listed = nurse.get(f"/api/patients/{baby}/assessments").raise_for_status().json()
        for reference in {*unit.saved.values(), *unit.created, *(a["id"] for a in listed)}:
            delete_written(neonatal, reference)


def neosafe_schema() -> dict:
    """The schema as NeoSafe makes it, at collection (schemathesis's pytest plugin needs it then); the test below
    checks it is the one a live NeoSafe serves, fetched with a bearer token."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///unused.db", secret_key=SECRET), sources=[])
    return app.openapi()


SCHEMA = neosafe_schema()
schema = schemathesis.openapi.from_dict(
    SCHEMA,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": REQUEST_TIMEOUT_S,
            "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True},
            # The schema's own examples are among the numbers drawn below (`given` cannot be combined with them).
            "phases": {"examples": {"enabled": False}},
        }
    ),
)


def test_the_schema_tested_is_the_one_neosafe_serves(unit: Unit):
    with unit.api() as api:
        assert api.get("/openapi.json").raise_for_status().json() == SCHEMA


def written_as(number: str) -> st.SearchStrategy[str]:
    """An NHS number in each way a person may write it."""
    return st.sampled_from(
        [number, f"{number[:3]} {number[3:6]} {number[6:]}", f"{number[:3]}-{number[3:6]}-{number[6:]}"]
    )


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=REQUEST_TIMEOUT_S),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_makes_neosafe_fail_or_answer_what_its_schema_does_not_say(case, data, unit):
    parameters = case.path_parameters or {}
    real_body = case.method in ("POST", "PUT") and bool(TAKES_A_RESPONSE.search(case.path)) and data.draw(st.booleans())
    if "number" in parameters:  # this module's baby, a sandbox family's, or the schema's own (any check digit)
        generated = parameters["number"]
        babies = st.one_of(st.just(unit.baby), st.sampled_from(FAMILIES), st.just(generated))
        baby = unit.baby if real_body else data.draw(babies)
        parameters["number"] = generated if baby == generated else data.draw(written_as(baby))
    if "checkpoint" in parameters:
        parameters["checkpoint"] = data.draw(st.sampled_from([*CHECKPOINTS, parameters["checkpoint"]]))
    if "assessment_id" in parameters:
        parameters["assessment_id"] = data.draw(st.sampled_from([*unit.saved.values(), parameters["assessment_id"]]))
    if real_body:  # this baby's checklist answered in full: for its checkpoint, or the one the assessment was at
        made_at = {saved: checkpoint for checkpoint, saved in unit.saved.items()}
        checkpoint = parameters.get("checkpoint") or made_at.get(parameters.get("assessment_id"), "admission")
        case.body = copy.deepcopy(unit.completed.get(checkpoint, unit.completed["admission"]))
    role = data.draw(st.sampled_from(sorted(DEMO_USERS)))
    token = issue_token(DEMO_USERS[role], secret=SECRET)

    answer = case.call_and_validate(
        base_url=unit.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
    )
    if answer.status_code == 201:
        unit.created.add(answer.json()["id"])
