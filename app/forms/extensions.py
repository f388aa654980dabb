"""Extension URLs and readers for the SDC features NeoSafe's checklists use: one place, imported by tests too."""

from __future__ import annotations

from typing import Any

from app.fhir_systems import FHIR_EXTENSION_BASE, SDC_EXTENSION_BASE

__all__ = [
    "CATEGORY",
    "ENABLE_WHEN_EXPRESSION",
    "HIDDEN",
    "INITIAL_EXPRESSION",
    "ITEM_CONTROL",
    "ITEM_POPULATION_CONTEXT",
    "LAUNCH_CONTEXT",
    "MAX_OCCURS",
    "MIN_OCCURS",
    "OBSERVATION_EXTRACT",
    "SIGNATURE",
    "SIGNATURE_REQUIRED",
    "expression",
    "extension_value",
    "is_help",
    "is_hidden",
    "max_occurs",
    "min_occurs",
]

SDC = SDC_EXTENSION_BASE
CORE = FHIR_EXTENSION_BASE

LAUNCH_CONTEXT = SDC + "sdc-questionnaire-launchContext"
OBSERVATION_EXTRACT = SDC + "sdc-questionnaire-observationExtract"
CATEGORY = SDC + "sdc-questionnaire-observation-extract-category"
ENABLE_WHEN_EXPRESSION = SDC + "sdc-questionnaire-enableWhenExpression"
INITIAL_EXPRESSION = SDC + "sdc-questionnaire-initialExpression"
ITEM_POPULATION_CONTEXT = SDC + "sdc-questionnaire-itemPopulationContext"
HIDDEN = CORE + "questionnaire-hidden"
MIN_OCCURS = CORE + "questionnaire-minOccurs"
MAX_OCCURS = CORE + "questionnaire-maxOccurs"
ITEM_CONTROL = CORE + "questionnaire-itemControl"
SIGNATURE = CORE + "questionnaireresponse-signature"
SIGNATURE_REQUIRED = CORE + "questionnaire-signatureRequired"


def extension_value(element: dict[str, Any], url: str) -> Any:
    """The value[x] of the first extension with this URL, or None."""
    for extension in element.get("extension") or []:
        if extension.get("url") == url:
            return next((v for k, v in extension.items() if k.startswith("value")), None)
    return None


def expression(element: dict[str, Any], url: str) -> dict[str, Any] | None:
    """A FHIRPath Expression extension (language text/fhirpath), or None."""
    value = extension_value(element, url)
    if isinstance(value, dict) and value.get("language") == "text/fhirpath" and value.get("expression"):
        return value
    return None


def is_help(item: dict[str, Any]) -> bool:
    """A display item that is its parent's help text (itemControl 'help')."""
    control = extension_value(item, ITEM_CONTROL) or {}
    return item.get("type") == "display" and any(c.get("code") == "help" for c in control.get("coding") or [])


def is_hidden(item: dict[str, Any]) -> bool:
    """An item the form keeps in the response (pre-filled) but never shows (core questionnaire-hidden)."""
    return extension_value(item, HIDDEN) is True


def min_occurs(item: dict[str, Any]) -> int:
    """How many answers (or group entries) a required item needs: questionnaire-minOccurs, else 1."""
    value = extension_value(item, MIN_OCCURS)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


def max_occurs(item: dict[str, Any]) -> int | None:
    """The most answers (or group entries) a repeating item may have: questionnaire-maxOccurs, else no limit."""
    value = extension_value(item, MAX_OCCURS)
    if not item.get("repeats"):
        return 1
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None
