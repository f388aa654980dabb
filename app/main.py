"""create_app(settings): wires sources, mappings, checklists and the database into the web rooms."""

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

from app.assessments import make_engine, prepare, session_factory
from app.config import Settings, SourceSettings
from app.forms import load_checklists, load_task_rules
from app.handover import load_recipients, load_sections
from app.picture import load_mappings
from app.sources import auth_for
from app.web import RequestLogMiddleware, Services, install_error_handlers
from app.web.api import router as api_router
from app.web.handover_pages import router as handover_router
from app.web.identity import VouchedTokens
from app.web.no_store import NoStoreMiddleware
from app.web.oidc import oidc_client
from app.web.oidc import router as oidc_router
from app.web.ops import router as ops_router
from app.web.pages import router as pages_router
from app.web.picture_cache import PictureCache
from app.web.templating import make_templates

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings,
    *,
    sources: list[SourceSettings] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The NeoSafe application. Sources default to the settings' sources file; tests pass their own."""
    engine = make_engine(settings.database_url)
    sources = sources if sources is not None else settings.sources()
    checklists = load_checklists(settings.checklists_dir)
    templates = make_templates(settings.templates_dir)
    services = Services(
        settings=settings,
        sources=sources,
        auths={s.name: auth for s in sources if (auth := auth_for(s)) is not None},
        mappings=load_mappings(settings.mappings_dir),
        checklists=checklists,
        handover_sections=load_sections(settings.mappings_dir / "handover.toml", checklists),
        handover_recipients=load_recipients(settings.mappings_dir / "handover.toml", checklists),
        task_rules=load_task_rules(settings.mappings_dir / "tasks.toml", checklists),
        document_env=templates.env,
        sessions=session_factory(engine),
        transport=transport,
        **({"clock": clock} if clock else {}),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(engine, migrate=settings.migrate_on_start)
        worker = services.outbox_worker()
        sending = asyncio.create_task(worker.run()) if settings.outbox_worker else None
        yield
        if sending:
            worker.stop()
            await sending  # lets the send in flight finish: nothing half-sent is abandoned
        await engine.dispose()

    app = FastAPI(
        title="NeoSafe",
        summary="Safeguarding checklists for neonatal units, from and to FHIR R4.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.templates = templates
    app.state.pictures = PictureCache()
    app.state.oidc = oidc_client(settings)
    app.state.vouched = VouchedTokens()
    app.mount("/assets", StaticFiles(directory=STATIC / "vendor" / "nhsuk-frontend"), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC / "neosafe"), name="static")
    app.include_router(ops_router)
    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(handover_router)
    app.include_router(oidc_router)
    install_error_handlers(app)
    app.add_middleware(NoStoreMiddleware)
    if app.state.oidc is not None:  # holds the sign-in's state, nonce and PKCE verifier between the two redirects
        app.add_middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie="neosafe_sign_in",
            max_age=600,
            same_site="lax",
        )
    app.add_middleware(RequestLogMiddleware)
    return app
