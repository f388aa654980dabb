"""Evaluate checklist FHIRPath with fhirpathpy. A broken expression is reported, never silently ignored."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

__all__ = ["ExpressionError", "evaluate"]

log = logging.getLogger(__name__)
R4 = models["r4"]


class ExpressionError(ValueError):
    """A checklist expression failed; the message names the expression, never patient data."""


@lru_cache(maxsize=512)
def _compiled(text: str):
    try:
        return fhirpathpy.compile(text, R4)
    except Exception as exc:  # fhirpathpy raises assorted errors on bad syntax
        raise ExpressionError(f"cannot parse FHIRPath {text!r}: {type(exc).__name__}") from exc


def evaluate(text: str, *, resource: dict[str, Any], env: dict[str, Any]) -> list[Any]:
    """Evaluate `text` against `resource` (the QuestionnaireResponse) with %variables from `env`."""
    function = _compiled(text)
    try:
        return function(resource, {"resource": resource, **env})
    except Exception as exc:
        log.warning("checklist expression failed: %s (%s)", text, type(exc).__name__)
        raise ExpressionError(f"FHIRPath {text!r} failed: {type(exc).__name__}") from exc
