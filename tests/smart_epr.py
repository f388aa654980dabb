"""A small EPR for the SMART launch tests: its FHIR server's SMART configuration, an authorization server that
checks PKCE (S256) and signs ID tokens, and the Patient read; served for real on loopback (tests.servers.serving).

sekmet's SMART server does not run user launches (its /auth/authorize answers an OAuth error), so the tests run
this one. A test registers a launch (`SmartEpr.launch`): who the clinician is and which patient, encounter and
need_patient_banner the token then carries. Every token request is kept (`token_requests`), to show the PKCE
verifier NeoSafe sent.

With `upstream` (a sandbox FHIR base), the EPR's FHIR server is that server behind this one: every other request
under /fhir is passed on, so NeoSafe can have it as a source and write to it, with `failing_writes` transactions
answered 503 first. A read with a launch's access token is kept in `token_uses`, to show where it went.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.config import Settings, SourceSettings
from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.main import create_app
from tests.conftest import SSO_ROLES, make_settings
from tests.servers import serving

CLIENT_ID = "neosafe-at-the-epr"


def nurse_claims(sub: str, name: str = "Priya Shah", role_code: str = "S8000:G8000:R8001") -> dict[str, Any]:
    """The clinician as the EPR's ID token names them: their FHIR user and their CIS2 role claims."""
    return {
        "sub": sub,
        "name": name,
        "fhirUser": f"Practitioner/{sub}",
        "nhsid_nrbac_roles": [{"person_roleid": "r1", "role_code": role_code, "activity_codes": []}],
        "selected_roleid": "r1",
    }


def patient(resource_id: str, nhs_number: str | None) -> dict[str, Any]:
    identifiers = [{"system": NHS_NUMBER_SYSTEM, "value": nhs_number}] if nhs_number else []
    identifiers.append({"system": "https://epr.example.nhs.uk/mrn", "value": f"MRN-{resource_id}"})
    return {"resourceType": "Patient", "id": resource_id, "identifier": identifiers}


@dataclass
class SmartEpr:
    url: str = ""
    launches: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> patient id it may read
    patients: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    configuration_changes: dict[str, Any] = field(default_factory=dict)  # a test's broken SMART configuration
    encounters: dict[str, dict[str, Any]] = field(default_factory=dict)
    upstream: str | None = None  # the sandbox FHIR server this EPR's FHIR server is, for everything else
    failing_writes: int = 0  # transactions still to answer 503 (the EPR's FHIR server down, then back)
    transactions: list[int] = field(default_factory=list)  # the status of each transaction posted, in order
    token_uses: list[str] = field(default_factory=list)  # "GET Patient/<id>": each request with a launch token
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def iss(self) -> str:
        return f"{self.url}/fhir"

    def launch(
        self,
        claims: dict[str, Any],
        patient_resource: dict[str, Any] | None,
        *,
        encounter: str = "enc-1",
        need_patient_banner: bool = True,
        forged: bool = False,
        stay_of: str | None = None,
    ) -> str:
        """A launch the EPR's user starts from a record; its `launch` value. Its encounter is that patient's stay
        (or `stay_of`'s, another patient id), unless the EPR's FHIR server (`upstream`) holds the Encounter."""
        launch_id = secrets.token_urlsafe(8)
        patient_id = patient_resource["id"] if patient_resource else None
        if patient_resource and self.upstream is None:  # else the EPR's FHIR server holds it
            self.patients[patient_resource["id"]] = patient_resource
        if self.upstream is None and (stay_of or patient_id):
            subject = {"reference": f"Patient/{stay_of or patient_id}"}
            self.encounters[encounter] = {"resourceType": "Encounter", "id": encounter, "subject": subject}
        self.launches[launch_id] = {
            "claims": claims,
            "patient": patient_id,
            "encounter": encounter,
            "need_patient_banner": need_patient_banner,
            "forged": forged,  # the ID token signed with a key not in the EPR's JWK Set
        }
        return launch_id

    def app(self) -> FastAPI:
        epr = FastAPI()

        @epr.get("/fhir/.well-known/smart-configuration")
        def configuration() -> dict[str, Any]:
            offered = {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "code_challenge_methods_supported": ["S256"],
                "capabilities": ["launch-ehr", "client-public", "sso-openid-connect", "context-ehr-patient"],
                "scopes_supported": ["launch", "openid", "fhirUser", "patient/*.rs"],
                "response_types_supported": ["code"],
            }
            return offered | self.configuration_changes

        @epr.get("/jwks")
        def jwks() -> dict[str, Any]:
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return {"keys": [{**public, "kid": "epr-1", "use": "sig", "alg": "RS256"}]}

        @epr.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            context = self.launches.get(q.get("launch", ""))
            if (
                q.get("response_type") != "code"
                or q.get("client_id") != CLIENT_ID
                or q.get("aud") != self.iss
                or context is None
                or q.get("code_challenge_method") != "S256"
                or not q.get("code_challenge")
                or not q.get("state")
            ):
                raise HTTPException(400, "not a SMART EHR launch this EPR accepts")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {**context, **dict(q)}
            return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

        @epr.post("/token")
        def token(
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            client_id: str = Form(),
            code_verifier: str = Form(""),
        ) -> JSONResponse:
            self.token_requests.append({"code": code, "client_id": client_id, "code_verifier": code_verifier})
            given = self.codes.pop(code, None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
            if (
                grant_type != "authorization_code"
                or given is None
                or given["redirect_uri"] != redirect_uri
                or client_id != CLIENT_ID
                or challenge.decode() != given["code_challenge"]
            ):
                return JSONResponse({"error": "invalid_grant"}, 400)
            access = secrets.token_urlsafe(24)
            self.tokens[access] = given["patient"]
            now = int(time.time())
            id_token = jwt.encode(
                {
                    **given["claims"],
                    "iss": self.url,
                    "aud": CLIENT_ID,
                    "iat": now,
                    "exp": now + 300,
                    "nonce": given["nonce"],
                },
                rsa.generate_private_key(public_exponent=65537, key_size=2048) if given["forged"] else self.key,
                algorithm="RS256",
                headers={"kid": "epr-1"},
            )
            answer = {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": given["scope"],
                "id_token": id_token,
                "encounter": given["encounter"],
                "need_patient_banner": given["need_patient_banner"],
            }
            if given["patient"]:
                answer["patient"] = given["patient"]
            return JSONResponse(answer)

        @epr.api_route("/fhir", methods=["GET", "POST"])
        @epr.api_route("/fhir/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def fhir(request: Request, path: str = "") -> Response:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            kind, _, resource_id = path.partition("/")
            if bearer in self.tokens:  # a launch's access token: the Patient and the Encounter reads only
                self.token_uses.append(f"{request.method} {path}")
                if request.method != "GET" or kind not in ("Patient", "Encounter"):
                    return JSONResponse({"resourceType": "OperationOutcome"}, 403)
                if kind == "Patient" and self.tokens[bearer] != resource_id:
                    return JSONResponse({"resourceType": "OperationOutcome"}, 401)
                local = (self.patients if kind == "Patient" else self.encounters).get(resource_id)
                if local is not None:
                    return JSONResponse(local, media_type="application/fhir+json")
            elif kind in ("Patient", "Encounter") and resource_id in (self.patients | self.encounters):
                return JSONResponse({"resourceType": "OperationOutcome"}, 401)
            if self.upstream is None:
                return JSONResponse({"resourceType": "OperationOutcome"}, 404)
            body = await request.body()
            transaction = request.method == "POST" and not path and b'"transaction"' in body  # not a batch read
            if transaction and self.failing_writes:
                self.failing_writes -= 1
                self.transactions.append(503)
                return JSONResponse({"resourceType": "OperationOutcome"}, 503)
            headers = {k: v for k, v in request.headers.items() if k in ("accept", "content-type", "prefer")}
            async with httpx.AsyncClient(timeout=60) as http:
                answer = await http.request(
                    request.method,
                    f"{self.upstream}/{path}" if path else self.upstream,
                    params=request.query_params,
                    content=body,
                    headers=headers,
                )
            if transaction:
                self.transactions.append(answer.status_code)
            body = answer.content.replace(self.upstream.encode(), self.iss.encode())  # links as this server's
            kept = {k: v for k, v in answer.headers.items() if k in ("content-type", "location", "etag")}
            return Response(body, answer.status_code, headers=kept)

        return epr


@contextmanager
def running_epr(upstream: str | None = None) -> Iterator[SmartEpr]:
    epr = SmartEpr(upstream=upstream)
    with serving(epr.app()) as url:
        epr.url = url
        yield epr


@dataclass(frozen=True)
class Launching:
    epr: SmartEpr
    settings: Settings
    url: str  # NeoSafe's
    sources: list[SourceSettings] = field(default_factory=list)  # NeoSafe's, the EPR's FHIR server among them


@contextmanager
def neosafe_in_the_epr(
    sources: list[SourceSettings],
    directory: Path,
    *,
    upstream: str | None = None,
    epr_source: str | None = None,
    write_back_source: str | None = None,
    **settings_changes: Any,
) -> Iterator[Launching]:
    """The EPR, and a NeoSafe it may launch (its allow-list naming the EPR's iss; CIS2 role codes mapped as in the
    single sign-on tests; no demo users unless `settings_changes` say so). With `upstream`, the EPR's FHIR server is
    that sandbox server, and NeoSafe's source `epr_source` is the EPR's FHIR server (its base the EPR's iss); the
    allow-list entry names `write_back_source` if given."""
    with running_epr(upstream) as epr:
        if epr_source:
            sources = [
                SourceSettings(**{**s.model_dump(), "base_url": epr.iss}) if s.name == epr_source else s
                for s in sources
            ]
        allow_list = directory / "smart-launch.toml"
        named = f'write_back_source = "{write_back_source}"\n' if write_back_source else ""
        allow_list.write_text(
            f'[[eprs]]\nname = "Test EPR"\niss = "{epr.iss}"\nclient_id = "{CLIENT_ID}"\n{named}', encoding="utf-8"
        )
        settings = make_settings(directory).model_copy(
            update={
                "demo_users": False,
                "oidc_roles": SSO_ROLES,
                "smart_launch_file": allow_list,
                **settings_changes,
            }
        )
        with serving(create_app(settings, sources=sources)) as url:
            yield Launching(epr, settings, url, sources)
