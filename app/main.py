"""create_app(settings): the application layer (app.checkpoints), adapted to HTTP by the web rooms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app.checkpoints import Checkpoints, Watcher
from app.checkpoints.launch import Launches
from app.config import ConfigError, Settings, SourceSettings
from app.delivery import Deliveries
from app.web import RequestLogMiddleware, install_error_handlers
from app.web.api import router as api_router
from app.web.assurance import router as assurance_router
from app.web.body_limit import BodyLimitMiddleware
from app.web.cds_hooks import router as cds_hooks_router
from app.web.docs import SWAGGER_UI, neosafe_openapi
from app.web.docs import router as docs_router
from app.web.fhir_notifications import router as fhir_notifications_router
from app.web.handover_pages import router as handover_router
from app.web.identity import VouchedTokens
from app.web.no_store import NoStoreMiddleware
from app.web.oidc import oidc_client
from app.web.oidc import router as oidc_router
from app.web.ops import router as ops_router
from app.web.pages import router as pages_router
from app.web.picture_cache import PictureCache
from app.web.same_origin import SameOriginPostsMiddleware
from app.web.security_headers import SecurityHeadersMiddleware
from app.web.sign_in import router as sign_in_router
from app.web.smart_launch import router as smart_launch_router
from app.web.templating import make_templates

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings,
    *,
    sources: list[SourceSettings] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    demo_cis2_token: str | None = None,
) -> FastAPI:
    """The NeoSafe application. Sources default to the settings' sources file; tests pass their own.

    `demo_cis2_token`: `neosafe demo`'s CP-IS sandbox token, kept with each demo user's sign-in as a CIS2 token is
    (so the demo asks CP-IS in its own shape). Only with demo users on; no setting or environment variable sets it."""
    if demo_cis2_token is not None and not (settings.demo_users and demo_cis2_token):
        raise ConfigError("a demo CP-IS token is for demo users only: it needs NEOSAFE_DEMO_USERS")
    checkpoints = Checkpoints.wire(settings, sources=sources, transport=transport, clock=clock)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with checkpoints.running(), Deliveries(checkpoints):
            worker, watcher = checkpoints.outbox_worker(), Watcher(checkpoints)
            served.state.watcher = watcher  # runs the watch job, and hears the sources' notifications
            sending = asyncio.create_task(worker.run()) if settings.outbox_worker else None
            watching = asyncio.create_task(watcher.run()) if settings.watch else None
            notified = asyncio.create_task(watcher.answer_notifications())  # whichever instance a source calls
            yield
            watcher.stop()
            await asyncio.gather(*([watching] if watching else []), notified)
            if sending:
                worker.stop()
                await sending  # lets the send in flight finish: nothing half-sent is abandoned

    app = FastAPI(
        title="NeoSafe",
        summary="Safeguarding checklists for neonatal units, from and to FHIR R4.",
        version="0.1.0",
        lifespan=lifespan,
        # /docs and /openapi.json are app/web/docs.py's, for signed-in users only; no ReDoc.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.openapi = lambda: neosafe_openapi(app)
    app.state.checkpoints = checkpoints
    app.state.templates = make_templates(settings.templates_dir)
    app.state.pictures = PictureCache()
    app.state.oidc = oidc_client(settings)
    app.state.vouched = VouchedTokens()
    app.state.demo_cis2_token = demo_cis2_token if settings.demo_users else None
    app.state.launches = Launches.wire(checkpoints)  # the EPRs allowed to launch NeoSafe (SMART)
    # Swagger UI's own files for /docs, served by NeoSafe (no CDN); mounted before /assets, which would take them.
    app.mount("/assets/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    app.mount("/assets", StaticFiles(directory=STATIC / "vendor" / "nhsuk-frontend"), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC / "neosafe"), name="static")
    app.include_router(ops_router)
    app.include_router(api_router)
    app.include_router(sign_in_router)
    app.include_router(pages_router)
    app.include_router(handover_router)
    app.include_router(oidc_router)
    app.include_router(docs_router)
    app.include_router(cds_hooks_router)
    app.include_router(smart_launch_router)
    app.include_router(assurance_router)
    app.include_router(fhir_notifications_router)
    install_error_handlers(app)
    app.add_middleware(NoStoreMiddleware)
    app.add_middleware(SameOriginPostsMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)
    if app.state.oidc is not None or app.state.launches.clients:  # a sign-in's or launch's state, nonce and PKCE
        app.add_middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie="neosafe_sign_in",
            max_age=600,
            same_site="lax",
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    return app
