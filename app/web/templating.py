"""The pages' templates: the documents' Jinja2 environment, with the one policy for what to offer whom.

`kept_date_input` is NHS.UK frontend's `dateInput`, drawn once for each blank date question: the component
renders six nested templates per call, and was three quarters of a checklist page's template time for 11 date
questions. Its markup is a pure function of its parameters (it is imported without context), so a blank one's
is kept and given again; one holding a value or an error message is drawn afresh every time, so no answer,
and nothing about a patient, outlives the request. The parameters of a blank one come from the checklist alone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, Undefined
from markupsafe import Markup

from app.checkpoints import may
from app.handover import document_environment

__all__ = ["kept_date_input", "make_templates"]

DATE_INPUT = "nhsuk/components/date-input/macro.jinja"
KEPT_DATE_INPUTS = 512  # a few dozen date questions over every checklist


class _Unkeyable(Exception):
    """A parameter the key cannot name exactly: draw the component afresh."""


def _key(value: Any) -> Any:
    """`value` as a hashable key that tells apart whatever the component could (text from Markup, and so on)."""
    if isinstance(value, Undefined):
        return ("undefined", type(value).__name__)
    if type(value) in (str, Markup, int, bool, float) or value is None:
        return (type(value).__name__, value)
    if type(value) is dict:
        return ("dict", tuple((k, _key(v)) for k, v in value.items() if type(k) is str))
    if type(value) is list:
        return ("list", tuple(_key(v) for v in value))
    raise _Unkeyable(type(value).__name__)


def _blank(params: dict[str, Any]) -> bool:
    """No value in any box and no error message: nothing in the markup but the checklist's own words."""
    items = params.get("items")
    return (
        isinstance(params.get("errorMessage"), Undefined)
        and type(items) is list
        and all(type(i) is dict and isinstance(i.get("value"), Undefined | None) for i in items)
    )


def kept_date_input(env: Environment) -> Callable[[dict[str, Any]], Markup]:
    """NHS.UK frontend's `dateInput(params)` in `env`; a blank one's markup kept (LRU) and given again."""
    kept: OrderedDict[Any, Markup] = OrderedDict()
    lock = threading.Lock()

    def date_input(params: dict[str, Any]) -> Markup:
        draw = env.get_template(DATE_INPUT).module.dateInput  # type: ignore[attr-defined]
        try:
            key = _key(params) if _blank(params) else None
        except _Unkeyable:
            key = None
        if key is None:
            return draw(params)
        with lock:
            if key in kept:
                kept.move_to_end(key)
                return kept[key]
        drawn = draw(params)
        with lock:
            kept[key] = drawn
            while len(kept) > KEPT_DATE_INPUTS:
                kept.popitem(last=False)
        return drawn

    return date_input


def make_templates(directory: Path) -> Jinja2Templates:
    """`may(user, "resend")` in a template asks app.checkpoints.policy, as every route does."""
    env = document_environment(directory)
    env.globals["may"] = may
    env.globals["kept_date_input"] = kept_date_input(env)
    return Jinja2Templates(env=env)
