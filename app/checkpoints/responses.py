"""What a QuestionnaireResponse must be before its answers are looked at: decided once, for a first version, a draft
and an amendment alike, from the pages and the API.

- A QuestionnaireResponse.
- On the checklist version it may be made on. A first version or a draft names the checkpoint's checklist in use
  (`url|version`): never a retired version (it would be checked against questions nobody is asked any more and
  stored as if made on the current one) nor another checkpoint's. An amendment keeps the version the checklist it
  amends was made on, whatever the request says (it may leave `questionnaire` out).
- About this baby: a response whose subject names another NHS number is never stored under this one.

Each reason is an Issue, so it takes the path validation issues take: a 422 OperationOutcome, a page that says so.
"""

from __future__ import annotations

from typing import Any

from app.forms import Checklists, Issue, canonical

__all__ = ["not_acceptable"]


def _wrong_version(
    checklists: Checklists, checkpoint: str, response: dict[str, Any], made_on: str | None
) -> str | None:
    named = response.get("questionnaire")
    if made_on is not None:
        if named in (None, made_on):
            return None
        return f"an amendment keeps the checklist it amends ({made_on}), not {named!r}"
    current = checklists.for_checkpoint(checkpoint)
    if named == canonical(current):
        return None
    try:
        theirs = checklists.for_response(response)
    except LookupError:
        return (
            f"QuestionnaireResponse.questionnaire must name the {checkpoint} checklist in use, "
            f"{canonical(current)}, not {named!r}"
        )
    if (other := checklists.checkpoint_of(theirs)) != checkpoint:
        return (
            f"this is the {other} checklist, not the {checkpoint} one: "
            f"start the {checkpoint} checklist (version {current['version']})"
        )
    return (
        f"this checklist was made on version {theirs['version']}, which is no longer in use: "
        f"start a new one on version {current['version']}"
    )


def not_acceptable(
    checklists: Checklists,
    checkpoint: str,
    nhs_number: str | None,
    response: dict[str, Any],
    *,
    made_on: str | None = None,
) -> list[Issue]:
    """Why `response` cannot be taken as the `checkpoint` checklist of the baby with `nhs_number`; empty if it can.

    `made_on` is, for an amendment, the url|version of the checklist it amends (from the stored checklist).
    """
    if response.get("resourceType") != "QuestionnaireResponse":
        return [Issue("resourceType", "resourceType", "the body must be a QuestionnaireResponse")]
    issues = []
    subject = response.get("subject")
    identifier = subject.get("identifier") if isinstance(subject, dict) else None
    named = identifier.get("value") if isinstance(identifier, dict) else None
    if named and named != nhs_number:
        issues.append(Issue("subject", "subject", "the response's subject is a different NHS number from this baby's"))
    if wrong := _wrong_version(checklists, checkpoint, response, made_on):
        issues.append(Issue("questionnaire", "questionnaire", wrong))
    return issues
