"""Who may do what, over HTTP, for every route NeoSafe serves: each role × each checkpoint × each action.

The rule for each route is written here once, in terms of app.checkpoints.policy's actions, and each request
is sent for real (a live NeoSafe on the sandbox sources, a baby of this module's own): a role the policy
allows is never refused, a role it does not allow is refused (403) whatever the request carries, and nobody
signed out gets anything. A route added without a row here fails `test_every_route_has_a_rule`.
"""

from __future__ import annotations

import copy
import re
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.routing import _EffectiveRouteContext, _IncludedRouter
from starlette.routing import Mount

from app.checkpoints import DEMO_USERS, ROLES, Action, may
from app.forms import CHECKPOINTS
from app.main import create_app
from app.web import issue_token
from tests.answering import completed
from tests.conftest import SECRET, make_settings
from tests.factories import create_baby
from tests.servers import serving
from tests.written import delete_written

PUBLIC = "public"  # no sign-in: liveness, readiness, metrics, signing in and out
EPR = "epr"  # a CDS Hooks call: the EPR's signed JWT, never a person's sign-in (tests/web/test_cds_hooks.py)
# A FHIR source's Subscription notification: the subscription's own secret, never a person's sign-in
# (tests/checkpoints/test_subscriptions.py).
SOURCE = "source"
SIGNED_IN = Action.VIEW  # every signed-in role


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    rule: str  # PUBLIC, or an app.checkpoints.policy Action
    about_a_checkpoint: bool = False  # the checkpoint is in the body, not the path

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/") or self.path == "/openapi.json"

    @property
    def per_checkpoint(self) -> bool:
        """Whether the answer may depend on the checkpoint: what a role may complete does; the rest does not."""
        if self.rule != Action.COMPLETE:
            return False
        return self.about_a_checkpoint or "{checkpoint}" in self.path or "{assessment_id}" in self.path


ROUTES = [
    Route("GET", "/healthz", PUBLIC),
    Route("GET", "/readyz", PUBLIC),
    Route("GET", "/metrics", PUBLIC),
    Route("GET", "/sign-in", PUBLIC),
    Route("POST", "/sign-in", PUBLIC),
    Route("POST", "/sign-out", PUBLIC),
    Route("GET", "/sign-in/oidc", PUBLIC),
    Route("GET", "/sign-in/callback", PUBLIC),
    Route("GET", "/cds-services", PUBLIC),  # discovery: the services and their prefetch, about nobody
    Route("POST", "/cds-services/{service_id}", EPR),
    Route("GET", "/launch", PUBLIC),  # a SMART EHR launch: signing in from the EPR (tests/web/test_smart_launch.py)
    Route("GET", "/launch/callback", PUBLIC),
    Route("POST", "/fhir/notifications/{key}", SOURCE),
    Route("PUT", "/fhir/notifications/{key}/{resource_type}/{resource_id}", SOURCE),
    # Pages
    Route("GET", "/", SIGNED_IN),
    Route("GET", "/docs", SIGNED_IN),
    Route("GET", "/openapi.json", SIGNED_IN),
    Route("GET", "/find", SIGNED_IN),
    Route("GET", "/patients/{number}", SIGNED_IN),
    Route("GET", "/patients/{number}/handover", SIGNED_IN),
    Route("GET", "/patients/{number}/handover.pdf", SIGNED_IN),
    Route("GET", "/patients/{number}/assessments/{assessment_id}", SIGNED_IN),
    Route("GET", "/patients/{number}/checklists/{checkpoint}", Action.COMPLETE),
    Route("POST", "/patients/{number}/checklists/{checkpoint}", Action.COMPLETE),
    Route("POST", "/patients/{number}/checklists/{checkpoint}/enabled", Action.COMPLETE),
    Route("POST", "/patients/{number}/checklists/{checkpoint}/draft/refresh", Action.COMPLETE),
    Route("GET", "/patients/{number}/assessments/{assessment_id}/amend", Action.COMPLETE),
    Route("POST", "/patients/{number}/assessments/{assessment_id}/amend", Action.COMPLETE),
    Route("POST", "/patients/{number}/assessments/{assessment_id}/amend/enabled", Action.COMPLETE),
    Route("POST", "/patients/{number}/assessments/{assessment_id}/cosign", Action.COSIGN),
    Route("POST", "/patients/{number}/assessments/{assessment_id}/resend", Action.RESEND),
    Route("POST", "/patients/{number}/assessments/{assessment_id}/overrides", Action.OVERRIDE),
    Route("GET", "/outbox", Action.RESEND),
    Route("GET", "/unit/safeguarding", Action.OVERSEE),
    Route("GET", "/unit/assurance", Action.ASSURE),
    Route("GET", "/unit/assurance.csv", Action.ASSURE),
    Route("GET", "/unit/assurance.pdf", Action.ASSURE),
    Route("GET", "/unit/assurance/babies", Action.ASSURE),
    Route("POST", "/patients/{number}/new-information/acknowledge", Action.ACKNOWLEDGE),
    Route("POST", "/session/keep-alive", SIGNED_IN),
    Route("GET", "/patients/{number}/checklists/{checkpoint}/resume/{held_id}", Action.COMPLETE),
    Route("GET", "/patients/{number}/assessments/{assessment_id}/amend/resume/{held_id}", Action.COMPLETE),
    # API
    Route("GET", "/api/checklists/{checkpoint}", SIGNED_IN),
    Route("GET", "/api/patients/{number}/picture", SIGNED_IN),
    Route("GET", "/api/patients/{number}/handover", SIGNED_IN),
    Route("GET", "/api/patients/{number}/assessments", SIGNED_IN),
    Route("GET", "/api/patients/{number}/assessments/{assessment_id}/versions", SIGNED_IN),
    Route("GET", "/api/patients/{number}/checklists/{checkpoint}", Action.COMPLETE),
    Route("PUT", "/api/patients/{number}/checklists/{checkpoint}/draft", Action.COMPLETE),
    Route("GET", "/api/patients/{number}/checklists/{checkpoint}/draft", Action.COMPLETE),
    Route("POST", "/api/patients/{number}/checklists/{checkpoint}/draft/refresh", Action.COMPLETE),
    Route("POST", "/api/patients/{number}/assessments", Action.COMPLETE, about_a_checkpoint=True),
    Route("POST", "/api/patients/{number}/assessments/{assessment_id}/amendments", Action.COMPLETE),
    Route("POST", "/api/patients/{number}/assessments/{assessment_id}/cosignature", Action.COSIGN),
    Route("POST", "/api/patients/{number}/assessments/{assessment_id}/overrides", Action.OVERRIDE),
]


def completed_by(checkpoint: str) -> frozenset[str]:
    """A checkpoint's role rule: the roles that may complete it."""
    return frozenset(role for role, user in DEMO_USERS.items() if may(user, Action.COMPLETE, checkpoint=checkpoint))


# Every role × route × checkpoint for the three checkpoints of the stay; another checkpoint (the in-stay checks)
# joins them only where its role rule is one none of them has, so the matrix's run time does not grow with
# checkpoints that share a rule. test_every_role_rule_is_in_the_matrix holds that; each of the others is still
# sent on every route, by one role that may and one that may not (test_every_checkpoint_is_served_on_every_route).
FIRST = ("admission", "transfer", "discharge")
MATRIX = (*FIRST, *(c for c in CHECKPOINTS if c not in FIRST and completed_by(c) not in map(completed_by, FIRST)))

HOLDS = tomllib.loads((Path(__file__).parents[2] / "fhir_mappings" / "discharge-holds.toml").read_text())["holds"]
OVERRIDERS = {h["id"]: frozenset(h["override_roles"]) for h in HOLDS}  # who may override each finding, as data
HELD_BY = "concern-at-discharge"  # the finding an override route is sent

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CSRF_REFUSAL = "This form has expired"


def flattened(routes) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through FastAPI's included routers (its own internals: test-only)."""
    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield from flattened(route.effective_candidates())
        elif isinstance(route, _EffectiveRouteContext):
            yield from ((m, route.path) for m in route.original_route.methods - {"HEAD"})
        elif not isinstance(route, Mount):  # Mounts: the design system's and NeoSafe's own static files
            yield from ((m, route.path) for m in route.methods - {"HEAD"})


def test_every_route_has_a_rule(tmp_path, sources):
    app = create_app(make_settings(tmp_path), sources=sources)
    assert set(flattened(app.routes)) == {(r.method, r.path) for r in ROUTES}


@dataclass
class Unit:
    """A live NeoSafe with one baby, a nurse-written checklist and a draft for each checkpoint; a signed-in
    browser session and an API client per role (None: nobody signed in), kept for the module."""

    url: str
    baby: str
    assessments: dict[str, str] = field(default_factory=dict)  # checkpoint -> id of the nurse's checklist
    clients: dict[tuple[str, str | None], httpx.Client] = field(default_factory=dict)
    answers: dict[str, dict] = field(default_factory=dict)  # checkpoint -> a complete checklist for the baby
    csrf_tokens: dict[str, str] = field(default_factory=dict)

    def api(self, role: str | None) -> httpx.Client:
        if ("api", role) not in self.clients:
            token = {"Authorization": f"Bearer {issue_token(DEMO_USERS[role], secret=SECRET)}"} if role else {}
            self.clients["api", role] = httpx.Client(base_url=self.url, headers=token, timeout=60)
        return self.clients["api", role]

    def page(self, role: str | None) -> httpx.Client:
        if ("page", role) not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=60)
            if role:
                assert client.post("/sign-in", data={"role": role}).status_code == 303
            self.clients["page", role] = client
        return self.clients["page", role]

    def csrf(self, role: str) -> str:
        """The CSRF token the role's own sign-in was given (every signed-in page carries it in its head)."""
        if role not in self.csrf_tokens:
            found = CSRF.search(self.page(role).get("/").text)
            assert found, "every page carries the session's CSRF token"
            self.csrf_tokens[role] = found.group(1)
        return self.csrf_tokens[role]

    def complete(self, checkpoint: str) -> dict:
        """A complete checklist for the baby, as the safeguarding lead (who may read every record) pre-fills it."""
        if checkpoint not in self.answers:
            self.answers[checkpoint] = completed(self.api("safeguarding-lead"), self.baby, checkpoint)
        return copy.deepcopy(self.answers[checkpoint])


@pytest.fixture(scope="module")
def unit(sources, sandbox, tmp_path_factory) -> Iterator[Unit]:
    with httpx.Client(base_url=sandbox.urls["neonatal"] + "/", timeout=30) as neonatal:
        baby = create_baby(neonatal)
        with serving(create_app(make_settings(tmp_path_factory.mktemp("matrix")), sources=sources)) as url:
            unit = Unit(url, baby)
            nurse = unit.api("nurse")
            for checkpoint in CHECKPOINTS:
                body = completed(nurse, baby, checkpoint)
                created = nurse.post(f"/api/patients/{baby}/assessments", json=body).raise_for_status()
                unit.assessments[checkpoint] = created.json()["id"]
                draft = nurse.get(f"/api/patients/{baby}/checklists/{checkpoint}").raise_for_status().json()
                nurse.put(f"/api/patients/{baby}/checklists/{checkpoint}/draft", json=draft).raise_for_status()
            yield unit
            written = nurse.get(f"/api/patients/{baby}/assessments").raise_for_status().json()
            for client in unit.clients.values():
                client.close()
        for assessment in written:
            delete_written(neonatal, assessment["id"])


def allowed(rule: str, role: str, checkpoint: str | None) -> bool:
    if rule == PUBLIC:
        return True
    # Every checklist here was written by the nurse: a co-signature is never the author's own. An override: the
    # roles fhir_mappings/discharge-holds.toml names for the finding the request names.
    return may(
        DEMO_USERS[role], rule, checkpoint=checkpoint, author_id=DEMO_USERS["nurse"].id, roles=OVERRIDERS[HELD_BY]
    )


def request_for(route: Route, unit: Unit, role: str | None, checkpoint: str | None, client: httpx.Client):
    """The request a client entitled to it would send: nothing in it but the role decides the answer."""
    checkpoint = checkpoint or "admission"  # where the answer does not depend on it, any will do
    path = route.path.replace("{number}", unit.baby)
    path = path.replace("{checkpoint}", checkpoint).replace("{assessment_id}", unit.assessments[checkpoint])
    path = path.replace("/find", f"/find?nhs_number={unit.baby}").replace("{held_id}", "not-held")
    kwargs: dict = {}
    if route.api and route.method in ("POST", "PUT"):
        if route.path.endswith("/draft"):
            kwargs["json"] = {**unit.complete(checkpoint), "status": "in-progress"}
        elif route.path.endswith("/refresh"):
            kwargs["json"] = {"take": []}
        elif route.path.endswith("/overrides"):
            kwargs["json"] = {"finding": HELD_BY, "reason": "The role matrix"}
        elif route.path.endswith(("/assessments", "/amendments")):
            body = unit.complete(checkpoint)
            if route.path.endswith("/amendments"):
                body["status"] = "amended"
            kwargs["json"] = body
            kwargs["headers"] = {"Idempotency-Key": str(uuid.uuid4())}
    elif route.method == "POST" and role and not route.api and route.rule != PUBLIC:
        kwargs["data"] = {"csrf": unit.csrf(role), "intent": "draft", "finding": HELD_BY, "reason": "The role matrix"}
    return client.request(route.method, path, **kwargs)


CASES = [
    pytest.param(route, role, checkpoint, id=f"{route.method} {route.path} {role} {checkpoint or ''}".strip())
    for route in ROUTES
    if route.rule not in (PUBLIC, EPR, SOURCE)
    for role in ROLES
    for checkpoint in (MATRIX if route.per_checkpoint else (None,))
]


@pytest.mark.parametrize(("route", "role", "checkpoint"), CASES)
def test_each_role_gets_what_the_policy_says_and_nothing_else(unit, route, role, checkpoint):
    client = unit.api(role) if route.api else unit.page(role)
    answer = request_for(route, unit, role, checkpoint, client)
    if allowed(route.rule, role, checkpoint):
        assert answer.status_code not in (401, 403), answer.text[:300]
        assert answer.status_code < 500, answer.text[:300]
    else:
        assert answer.status_code == 403, answer.text[:300]
        assert CSRF_REFUSAL not in answer.text  # refused for the role, not for a missing token


@pytest.mark.parametrize(
    "route", [pytest.param(r, id=f"{r.method} {r.path}") for r in ROUTES if r.rule not in (PUBLIC, EPR, SOURCE)]
)
def test_nobody_signed_out_gets_anything(unit, route):
    client = unit.api(None) if route.api else unit.page(None)
    answer = request_for(route, unit, None, CHECKPOINTS[0] if route.per_checkpoint else None, client)
    if route.api:
        assert answer.status_code == 401
    else:
        assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in"), answer.status_code


def test_every_role_rule_is_in_the_matrix():
    assert set(FIRST) <= set(CHECKPOINTS)
    assert {completed_by(c) for c in MATRIX} == {completed_by(c) for c in CHECKPOINTS}


def one_that_may_and_one_that_may_not(checkpoint: str) -> list[str]:
    rule = completed_by(checkpoint)
    return [next(r for r in ROLES if r in rule), *(r for r in ROLES if r not in rule)][:2]


OTHERS = [
    pytest.param(route, role, checkpoint, id=f"{route.method} {route.path} {role} {checkpoint}")
    for route in ROUTES
    if route.per_checkpoint
    for checkpoint in CHECKPOINTS
    if checkpoint not in MATRIX
    for role in one_that_may_and_one_that_may_not(checkpoint)
]


@pytest.mark.parametrize(("route", "role", "checkpoint"), OTHERS)
def test_every_checkpoint_is_served_on_every_route(unit, route, role, checkpoint):
    """A checkpoint outside the matrix, by a role its rule allows (never refused, never a 500) and one it does not."""
    test_each_role_gets_what_the_policy_says_and_nothing_else(unit, route, role, checkpoint)
