"""What every page shares: drawing a template, and the CSRF token its forms carry.

The CSRF token is signed for one sign-in (its id is in the signing salt) and dated: a form drawn in another
sign-in, the same user's before they signed out included, or older than NEOSAFE_SESSION_HOURS, is refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.assessments import SignIn

__all__ = ["check_csrf", "csrf", "render_page"]

EXPIRED = "This form has expired. Go back, reload the page and try again."


def render_page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page; signed in, it carries the sign-in's CSRF token for its forms (and in its head, for scripts)."""
    if getattr(request.state, "sign_in", None) is not None:
        context.setdefault("csrf", csrf(request))
    templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _signer(request: Request, sign_in: SignIn) -> URLSafeTimedSerializer:
    secret = request.app.state.checkpoints.settings.secret_key
    return URLSafeTimedSerializer(secret, salt=f"neosafe-csrf/{sign_in.id}")


def csrf(request: Request) -> str:
    """The token the forms of this page carry: for the sign-in that opened it (`request.state.sign_in`)."""
    sign_in: SignIn = request.state.sign_in
    return _signer(request, sign_in).dumps(sign_in.user_id)


def check_csrf(request: Request, token: str) -> None:
    """403 unless `token` was issued in this request's sign-in, within NEOSAFE_SESSION_HOURS."""
    sign_in: SignIn | None = getattr(request.state, "sign_in", None)
    hours = request.app.state.checkpoints.settings.session_hours
    try:
        owner = _signer(request, sign_in).loads(token, max_age=hours * 3600) if sign_in else None
    except BadSignature:  # forged, from another sign-in, or expired (SignatureExpired is a BadSignature)
        owner = None
    if sign_in is None or owner != sign_in.user_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, EXPIRED)
