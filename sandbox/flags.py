"""A Patient Flags API sandbox on 127.0.0.1: NHS England's Patient Flags API in its own shape, for the tests.

It answers `GET /Flag?patient=<bare NHS number>` (and `&code=system|code,...`, keeping the Flags with any of those
codes in their code or category) from its own synthetic data, FLAGS below, about the sandbox families: an FGM-IS flag
on family 16's older girl (a baby girl's sister), a reasonable-adjustment flag on her mother and the read-only CP-IS
flag on family 04's baby. As the API does, it refuses a request without a user's Bearer token it accepts (401): one of
`tokens`, or, given `userinfo_url` (the sign-in provider's UserInfo endpoint, standing in for NHS CIS2), one that
endpoint accepts; and one without an X-Request-ID that is a UUID, or whose `patient` is not a bare NHS number (400).
Every request it answered is kept in `seen` (the request id, the NHS number, the codes asked for). NHS numbers in
`malformed` are answered with a Bundle that is not FHIR's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .national import (
    FHIR_JSON,
    MALFORMED_BUNDLE,
    NationalSandbox,
    capability_statement,
    is_uuid,
    needs_user_token,
    outcome,
    searchset,
    user_token_check,
)

__all__ = ["FLAGS", "FLAGS_TOKEN", "FlagsSandbox", "flag", "flags_app"]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CATEGORY_SYSTEM = "https://fhir.nhs.uk/England/CodeSystem/PatientFlagCategory"  # non-normative (NHSE draft, 2024)
SCT = "http://snomed.info/sct"
FLAGS_TOKEN = "sandbox-cis2-user-token"  # the user token the sandbox accepts unless told others
CATEGORY_DISPLAY = {
    "FGM": "Female Genital Mutilation Flag",
    "NRAF": "National Reasonable Adjustments Flag",
    "CP-IS": "Child Protection Information Sharing Flag",
}


def flag(
    id_: str, nhs_number: str, category: str, *, code: dict[str, Any], start: str, status: str = "active"
) -> dict[str, Any]:
    """A Flag as the Patient Flags API returns it: its category, its code, about the NHS number (by identifier)."""
    return {
        "resourceType": "Flag",
        "id": id_,
        "status": status,
        "category": [
            {"coding": [{"system": CATEGORY_SYSTEM, "code": category, "display": CATEGORY_DISPLAY[category]}]}
        ],
        "code": code,
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}},
        "period": {"start": start},
        "author": {"display": "NHS England Patient Flags (sandbox)"},
    }


FGM_IS_CODE = {
    "coding": [{"system": SCT, "code": "902961000000107", "display": "Family history of female genital mutilation"}]
}
# NHS number -> its Flags (the families' NHS numbers: sandbox/families/README.md)
FLAGS: dict[str, list[dict[str, Any]]] = {
    "9991603018": [flag("flags-fgmis-sister", "9991603018", "FGM", code=FGM_IS_CODE, start="2024-03-04")],
    "9991602003": [
        flag(
            "flags-fgmis-mother-ra",
            "9991602003",
            "NRAF",
            code={"text": "Needs a longer appointment and information in plain English"},
            start="2026-05-12",
        )
    ],
    "9990401004": [
        flag(
            "flags-activecp-baby-cpis",
            "9990401004",
            "CP-IS",
            code={"coding": [{"system": SCT, "code": "224353004", "display": "Child protection finding"}]},
            start="2026-11-18",
        )
    ],
}


def _codes(resource: dict[str, Any]) -> set[str]:
    concepts = [resource.get("code") or {}, *(resource.get("category") or [])]
    return {f"{c.get('system')}|{c.get('code')}" for concept in concepts for c in concept.get("coding") or []}


def flags_app(
    *,
    flags: dict[str, list[dict[str, Any]]],
    tokens: frozenset[str],
    malformed: frozenset[str] = frozenset(),
    userinfo_url: str | None = None,
) -> Starlette:
    """The Patient Flags API as an ASGI app; `app.state.seen` lists each Flag search it answered."""
    seen: list[dict[str, Any]] = []

    accepted = user_token_check(tokens, userinfo_url)

    async def metadata(request: Request) -> JSONResponse:
        return capability_statement("Patient Flags API", "Flag", "search-type")

    async def search(request: Request) -> JSONResponse:
        if not await accepted(request):
            return needs_user_token()
        request_id = request.headers.get("X-Request-ID", "")
        if not is_uuid(request_id):
            return outcome(400, "required", "X-Request-ID must be a UUID")
        number = request.query_params.get("patient", "")
        if len(number) != 10 or not number.isdigit():
            return outcome(400, "invalid", "search by patient=<NHS number> (ten digits, no system)")
        wanted = {c for c in request.query_params.get("code", "").split(",") if c}
        seen.append({"request_id": request_id, "nhs_number": number, "codes": sorted(wanted)})
        if number in malformed:
            return JSONResponse(MALFORMED_BUNDLE, media_type=FHIR_JSON)
        found = [f for f in flags.get(number, []) if not wanted or _codes(f) & wanted]
        return searchset([{"fullUrl": f"{request.base_url}Flag/{f['id']}", "resource": f} for f in found])

    app = Starlette(routes=[Route("/metadata", metadata), Route("/Flag", search)])
    app.state.seen = seen
    return app


@dataclass
class FlagsSandbox(NationalSandbox):
    """Start with `with FlagsSandbox() as flags:`; `flags.url` is its base URL, `flags.seen` what it was asked."""

    what: ClassVar[str] = "the Patient Flags sandbox"

    tokens: frozenset[str] = frozenset({FLAGS_TOKEN})
    malformed: frozenset[str] = frozenset()
    userinfo_url: str | None = None
    extra_flags: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # NHS number -> more Flags

    def app(self) -> Starlette:
        held = {number: list(found) for number, found in FLAGS.items()}
        for number, more in self.extra_flags.items():
            held.setdefault(number, []).extend(more)
        return flags_app(flags=held, tokens=self.tokens, malformed=self.malformed, userinfo_url=self.userinfo_url)
