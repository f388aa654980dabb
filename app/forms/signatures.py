"""Signatures: saving signs a checklist as its author; some checklists also need a second signature.

A checklist item carrying the core extension questionnaire-signatureRequired asks for that signature
whenever the item applies (is enabled): e.g. the discharge sign-off asks the named nurse for safeguarding
to co-sign when the sources hold any safeguarding record. Signatures live on the QuestionnaireResponse
as questionnaireresponse-signature extensions (ASTM E1762 signature types).
"""

from __future__ import annotations

from typing import Any

from .enable_when import enabled_paths
from .extensions import SIGNATURE, SIGNATURE_REQUIRED, extension_value
from .tree import walk

__all__ = ["AUTHOR", "VERIFIER", "missing_signatures", "signature"]

ASTM = "urn:iso-astm:E1762-95:2013"
AUTHOR = {"system": ASTM, "code": "1.2.840.10065.1.12.1.1", "display": "Author's Signature"}
VERIFIER = {"system": ASTM, "code": "1.2.840.10065.1.12.1.5", "display": "Verification Signature"}


def signature(kind: dict[str, str], who: dict[str, Any], when: str) -> dict[str, Any]:
    """A questionnaireresponse-signature extension."""
    return {"url": SIGNATURE, "valueSignature": {"type": [kind], "when": when, "who": who}}


def _signed(response: dict[str, Any]) -> set[str]:
    return {
        t.get("code")
        for e in response.get("extension") or []
        if e.get("url") == SIGNATURE
        for t in (e.get("valueSignature") or {}).get("type") or []
    }


def missing_signatures(
    questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]
) -> list[dict[str, str]]:
    """Signature types that enabled items require and the response does not carry yet."""
    enabled = enabled_paths(questionnaire, response, env)
    required: dict[str, dict[str, str]] = {}
    for node in walk(questionnaire, response):
        wanted = extension_value(node.q, SIGNATURE_REQUIRED)
        if node.path in enabled and wanted:
            for coding in wanted.get("coding") or []:
                required[coding.get("code", "")] = coding
    have = _signed(response)
    return [coding for code, coding in required.items() if code not in have]
