"""What every page shares: drawing a template, and the CSRF token its forms carry."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeSerializer

from app.checkpoints import Checkpoints, User

__all__ = ["check_csrf", "csrf", "render_page"]


def render_page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def csrf(services: Checkpoints, user: User) -> str:
    return URLSafeSerializer(services.settings.secret_key, salt="neosafe-csrf").dumps(user.id)


def check_csrf(services: Checkpoints, user: User, token: str) -> None:
    try:
        owner = URLSafeSerializer(services.settings.secret_key, salt="neosafe-csrf").loads(token)
    except BadSignature:
        owner = None
    if owner != user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This form has expired. Go back, reload the page and try again.")
