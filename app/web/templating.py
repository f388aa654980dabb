"""The pages' templates: the documents' Jinja2 environment, with the one policy for what to offer whom."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from app.checkpoints import may
from app.handover import document_environment

__all__ = ["make_templates"]


def make_templates(directory: Path) -> Jinja2Templates:
    """`may(user, "resend")` in a template asks app.checkpoints.policy, as every route does."""
    env = document_environment(directory)
    env.globals["may"] = may
    return Jinja2Templates(env=env)
