"""The API's documentation, for people signed in to NeoSafe: Swagger UI at /docs, and the OpenAPI schema it reads.

Swagger UI's files come from the swagger-ui-bundle-v2 package and are served by NeoSafe (no CDN); the page's one
script of its own is /static/docs.js, so the page runs under the same strict content security policy as every
other. The schema says what each API route really answers, errors included (app/web/api.py, app/web/errors.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.openapi.constants import REF_TEMPLATE
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic.json_schema import models_json_schema
from swagger_ui_bundle import swagger_ui_path

from app.checkpoints import User

from .api import REFERRED
from .deps import CheckpointsDep, PageUser, SignInRequired, api_user, page_user
from .rendering import render_page

__all__ = ["SCHEMA_URL", "SWAGGER_UI", "neosafe_openapi", "router"]

SCHEMA_URL = "/openapi.json"
SWAGGER_UI = swagger_ui_path  # swagger-ui's dist folder, mounted at /assets/swagger-ui by app/main.py

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request, user: PageUser) -> HTMLResponse:
    """Swagger UI, under every page's CSP; signed out, the browser is sent to sign in and brought back."""
    return render_page(request, "docs.html", schema_url=SCHEMA_URL)


async def schema_reader(request: Request, services: CheckpointsDep) -> User:
    """An API client by its bearer token; else the person signed in to the docs page, by the page's cookie. Neither:
    401 (the schema is a document, not a page to be sent to sign in from)."""
    if "authorization" in request.headers:
        return await api_user(request, services)
    try:
        return await page_user(request, services)
    except SignInRequired as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "sign in to NeoSafe, or send a bearer token", {"WWW-Authenticate": "Bearer"}
        ) from exc


@router.get(SCHEMA_URL)
async def openapi_schema(request: Request, user: Annotated[User, Depends(schema_reader)]) -> JSONResponse:
    return JSONResponse(request.app.openapi())


def neosafe_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema of the app, with what FastAPI cannot say by itself: the models the API refers to by hand
    (a refused QuestionnaireResponse's OperationOutcome), and no validation-error body that NeoSafe never sends."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        _, referred = models_json_schema([(m, "serialization") for m in REFERRED], ref_template=REF_TEMPLATE)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(referred.get("$defs", {}))
        for operation in (op for ops in schema["paths"].values() for op in ops.values()):
            responses = operation.get("responses", {})
            if _is_fastapis_validation_error(responses.get("422")):
                del responses["422"]  # errors.py answers a Problem: each /api route that can be 422 declares it
        for default in ("HTTPValidationError", "ValidationError"):
            schemas.pop(default, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _is_fastapis_validation_error(response: dict[str, Any] | None) -> bool:
    content = (response or {}).get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError")
