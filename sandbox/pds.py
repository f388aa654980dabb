"""A PDS sandbox on 127.0.0.1: NHS England's Personal Demographics Service FHIR API in its own shape, for the tests.

It answers `GET /Patient/<NHS number>` with the Patient PDS would hold, its NHS-number identifier carrying the UK Core
NHSNumberVerificationStatus extension, and `GET /Patient/<NHS number>/RelatedPerson` with the baby's mother
(relationship MTH; an empty Bundle for a restricted patient). Its patients are the synthetic families' (each one's
Patient in the family's neonatal, maternity, CP-IS and social-care bundles, and the household's RelatedPersons),
every number verified (`01`) except one person left unverified (`UNVERIFIED`, status 05) and one newborn whose trace
is postponed (`POSTPONED_BABY`, status 08). As PDS does, it refuses a request without a user's Bearer token it accepts
(401: one of `tokens`, or one the sign-in provider's UserInfo endpoint at `userinfo_url` accepts) and one without
an `X-Request-ID` that is a UUID (400); an unknown number is 404. Every request it answered is kept in `seen` (the
request id, the NHSD-End-User-Organisation-ODS sent, the NHS number, what was asked). NHS numbers in `malformed`
are answered with a Patient that is not FHIR's shape; those in `moved` with another number's Patient.

It also answers a trace, `GET /Patient?family=&given=&birthdate=eq<date>...`, with the parameters PDS takes (any
other is 400 ADDITIONAL_PROPERTIES; no family name or date of birth, 400 INVALID_SEARCH_DATA): each of its people
whose family name, first given name, gender and date of birth (and, given `address-postalcode`, home postcode) are
those asked, case-insensitively, in a searchset Bundle with `search.score` 1; more than `_max-results` of them is
PDS's TOO_MANY_MATCHES (an OperationOutcome with HTTP 200). A restricted person carries `meta.security` R and is not
found by postcode, as on PDS. `scores` gives a person another score, sent even under `_exact-match` (a PDS not doing
as asked); a trace matching someone in `malformed` is answered with an entry that is not FHIR's shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .national import (
    FHIR_JSON,
    NationalSandbox,
    capability_statement,
    is_uuid,
    needs_user_token,
    outcome,
    outcome_with_code,
    searchset,
    user_token_check,
)
from .servers import FAMILIES_DIR

__all__ = [
    "PDS_TOKEN",
    "POSTPONED_BABY",
    "SEARCH_PARAMETERS",
    "UNVERIFIED",
    "PdsSandbox",
    "patients_of_families",
    "pds_app",
]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
STATUS_EXTENSION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
STATUS_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
ROLE_CODES = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PDS_TOKEN = "sandbox-cis2-user-token"  # the user token the sandbox accepts unless told others
UNVERIFIED = "9990403007"  # family 04's partner: "trace needs to be resolved"
POSTPONED_BABY = "9990201005"  # family 02's baby, born 2026-11-23: trace postponed (baby under six weeks old)
STATUSES = {UNVERIFIED: "05", POSTPONED_BABY: "08"}
DISPLAYS = {
    "01": "Number present and verified",
    "05": "Trace needs to be resolved - (NHS number or patient detail conflict)",
    "08": "Trace postponed (baby under six weeks old)",
}
# The PDS FHIR API's search parameters (NHSDigital/personal-demographics-service-api,
# specification/components/paths/patient-search.yaml)
SEARCH_PARAMETERS = frozenset(
    {
        "_fuzzy-match",
        "_exact-match",
        "_history",
        "_max-results",
        "family",
        "given",
        "gender",
        "birthdate",
        "death-date",
        "address-postalcode",
        "address-postcode",
        "general-practitioner",
        "email",
        "phone",
    }
)
SEEDED_FROM = ("neonatal", "maternity", "cpis", "social-care")  # police-gp holds a stranger under a borrowed number


def _nhs_number(resource: dict[str, Any]) -> str | None:
    ids = resource.get("identifier") or []
    return next((i.get("value") for i in ids if i.get("system") == NHS_NUMBER_SYSTEM), None)


def _demographics(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: resource[k] for k in ("name", "gender", "birthDate") if k in resource}


def patients_of_families(families_dir: Path = FAMILIES_DIR) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """NHS number -> demographics (name, gender, birthDate), and a baby's NHS number -> their mother's."""
    people: dict[str, dict[str, Any]] = {}
    mothers: dict[str, list[str]] = {}
    for kind in SEEDED_FROM:
        for path in sorted(families_dir.glob(f"*/{kind}.json")):
            resources = [e["resource"] for e in json.loads(path.read_text(encoding="utf-8")).get("entry", [])]
            by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources if r.get("id")}
            for resource in resources:
                number = _nhs_number(resource)
                if resource["resourceType"] not in ("Patient", "RelatedPerson") or not number:
                    continue
                people.setdefault(number, _demographics(resource))
                codes = {c.get("code") for r in resource.get("relationship") or [] for c in r.get("coding") or []}
                child = _nhs_number(by_ref.get((resource.get("patient") or {}).get("reference", ""), {}))
                if resource["resourceType"] == "RelatedPerson" and "MTH" in codes and child:
                    mothers.setdefault(child, [])
                    if number not in mothers[child]:
                        mothers[child].append(number)
    return people, mothers


def _patient(number: str, demographics: dict[str, Any], status: str) -> dict[str, Any]:
    coding = {"system": STATUS_SYSTEM, "code": status, "display": DISPLAYS.get(status, "NHS number status")}
    identifier = {
        "system": NHS_NUMBER_SYSTEM,
        "value": number,
        "extension": [{"url": STATUS_EXTENSION, "valueCodeableConcept": {"coding": [coding]}}],
    }
    return {"resourceType": "Patient", "id": number, "identifier": [identifier], **demographics}


def _folded(value: Any) -> str:
    return "".join(str(value).split()).casefold()


def _matches(demographics: dict[str, Any], asked: dict[str, str]) -> bool:
    """Whether the person is the one the trace describes (family, first given, gender, date of birth, postcode)."""
    names = [n for n in demographics.get("name") or [] if isinstance(n, dict)]
    named = any(
        _folded(n.get("family", "")) == _folded(asked["family"])
        and ("given" not in asked or _folded((n.get("given") or [""])[0]) == _folded(asked["given"]))
        for n in names
    )
    postcodes = {_folded(a.get("postalCode", "")) for a in demographics.get("address") or [] if isinstance(a, dict)}
    return (
        named
        and demographics.get("birthDate") == asked["birthdate"][2:]
        and ("gender" not in asked or demographics.get("gender") == asked["gender"])
        and ("address-postalcode" not in asked or _folded(asked["address-postalcode"]) in postcodes)
    )


def pds_app(
    *,
    people: dict[str, dict[str, Any]],
    mothers: dict[str, list[str]],
    statuses: dict[str, str],
    tokens: frozenset[str],
    malformed: frozenset[str] = frozenset(),
    moved: dict[str, str] | None = None,
    restricted: frozenset[str] = frozenset(),
    userinfo_url: str | None = None,
    scores: dict[str, float] | None = None,
) -> Starlette:
    """The PDS API as an ASGI app; `app.state.seen` lists each request it answered."""
    seen: list[dict[str, Any]] = []
    moved = moved or {}

    accepted = user_token_check(tokens, userinfo_url)

    async def refused(request: Request, number: str, asked: str) -> JSONResponse | None:
        if not await accepted(request):
            return needs_user_token()
        request_id = request.headers.get("X-Request-ID", "")
        if not is_uuid(request_id):
            return outcome(400, "value", "X-Request-ID must be a UUID")
        if not (number.isdigit() and len(number) == 10):
            return outcome(400, "value", "INVALID_RESOURCE_ID: an NHS number is 10 digits")
        ods = request.headers.get("NHSD-End-User-Organisation-ODS")
        seen.append({"request_id": request_id, "ods": ods, "nhs_number": number, "asked": asked})
        return None

    async def search(request: Request) -> JSONResponse:
        if not await accepted(request):
            return needs_user_token()
        request_id = request.headers.get("X-Request-ID", "")
        if not is_uuid(request_id):
            return outcome(400, "value", "X-Request-ID must be a UUID")
        asked = dict(request.query_params)
        seen.append(
            {
                "request_id": request_id,
                "ods": request.headers.get("NHSD-End-User-Organisation-ODS"),
                "nhs_number": None,
                "asked": "search",
                "params": list(request.query_params.multi_items()),
            }
        )
        if unknown := sorted(set(asked) - SEARCH_PARAMETERS):
            return outcome(400, "structure", f"ADDITIONAL_PROPERTIES: {unknown[0][:40]}")
        if "family" not in asked or "birthdate" not in asked:
            return outcome(400, "value", "INVALID_SEARCH_DATA: a family name and date of birth are needed")
        if not asked["birthdate"].startswith("eq") or len(asked["birthdate"]) != 12:
            return outcome(400, "value", "INVALID_VALUE: birthdate (this sandbox takes eqYYYY-MM-DD)")
        most = asked.get("_max-results", "50")
        if not most.isdigit() or not 1 <= int(most) <= 50:
            return outcome(400, "value", "INVALID_VALUE: _max-results must be 1 to 50")
        found = [
            number
            for number, demographics in people.items()
            if _matches(demographics, asked) and not (number in restricted and "address-postalcode" in asked)
        ]
        if len(found) > int(most):
            return outcome_with_code(200, "multiple-matches", "TOO_MANY_MATCHES")
        entries = []
        for number in found:
            resource = _patient(number, people[number], statuses.get(number, "01"))
            if number in restricted:
                resource["meta"] = {"security": [{"code": "R", "display": "restricted"}]}
            if number in malformed:
                resource["identifier"] = "x"
            score = (scores or {}).get(number, 1)
            url = f"{request.base_url}Patient/{number}"
            entries.append({"fullUrl": url, "search": {"score": score}, "resource": resource})
        return searchset(entries)

    async def metadata(request: Request) -> JSONResponse:
        return capability_statement("PDS", "Patient", "read")

    async def patient(request: Request) -> JSONResponse:
        number = request.path_params["nhs_number"]
        if (refusal := await refused(request, number, "Patient")) is not None:
            return refusal
        if number in malformed:
            return JSONResponse({"resourceType": "Patient", "id": number, "identifier": "x"}, media_type=FHIR_JSON)
        held = moved.get(number, number)
        if held not in people:
            return outcome(404, "not-found", "RESOURCE_NOT_FOUND: no patient with this NHS number")
        return JSONResponse(_patient(held, people[held], statuses.get(held, "01")), media_type=FHIR_JSON)

    async def related(request: Request) -> JSONResponse:
        number = request.path_params["nhs_number"]
        if (refusal := await refused(request, number, "RelatedPerson")) is not None:
            return refusal
        if number not in people:
            return outcome(404, "not-found", "RESOURCE_NOT_FOUND: no patient with this NHS number")
        found = [] if number in restricted else mothers.get(number, [])
        entries = [
            {
                "fullUrl": f"{request.base_url}Patient/{number}/RelatedPerson/{number}-{n}",
                "resource": {
                    "resourceType": "RelatedPerson",
                    "id": f"{number}-{n}",
                    "patient": {"type": "Patient", "identifier": {"system": NHS_NUMBER_SYSTEM, "value": mother}},
                    "relationship": [{"coding": [{"system": ROLE_CODES, "code": "MTH", "display": "mother"}]}],
                    **_demographics(people.get(mother, {})),
                },
            }
            for n, mother in enumerate(found)
        ]
        return searchset(entries)

    app = Starlette(
        routes=[
            Route("/metadata", metadata),
            Route("/Patient", search),
            Route("/Patient/{nhs_number}", patient),
            Route("/Patient/{nhs_number}/RelatedPerson", related),
        ]
    )
    app.state.seen = seen
    return app


@dataclass
class PdsSandbox(NationalSandbox):
    """Start with `with PdsSandbox() as pds:`; `pds.url` is its base URL, `pds.seen` what it was asked."""

    what: ClassVar[str] = "the PDS sandbox"

    tokens: frozenset[str] = frozenset({PDS_TOKEN})
    statuses: dict[str, str] = field(default_factory=lambda: dict(STATUSES))  # NHS number -> its status code
    malformed: frozenset[str] = frozenset()
    moved: dict[str, str] = field(default_factory=dict)  # NHS number asked -> the number whose Patient answers
    restricted: frozenset[str] = frozenset()  # their RelatedPersons are not shown (an empty Bundle)
    extra_people: dict[str, dict[str, Any]] = field(default_factory=dict)  # NHS number -> demographics, replacing
    extra_mothers: dict[str, list[str]] = field(default_factory=dict)  # a baby's NHS number -> mothers', replacing
    userinfo_url: str | None = None
    scores: dict[str, float] = field(default_factory=dict)  # NHS number -> the search.score a trace answers with
    families_dir: Path = FAMILIES_DIR

    def app(self) -> Starlette:
        people, mothers = patients_of_families(self.families_dir)
        return pds_app(
            people={**people, **self.extra_people},
            mothers={**mothers, **self.extra_mothers},
            statuses=self.statuses,
            tokens=self.tokens,
            malformed=self.malformed,
            moved=self.moved,
            restricted=self.restricted,
            userinfo_url=self.userinfo_url,
            scores=self.scores,
        )
