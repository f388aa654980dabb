"""What a use case answers when it cannot do what was asked: typed, so pages and API map each the same way."""

from __future__ import annotations

from dataclasses import dataclass

from app.assessments import OutboxEntry
from app.forms import Issue

__all__ = ["AlreadySubmitted", "Conflict", "Forbidden", "Invalid", "NotFound", "NotWritable", "Refused", "Submitted"]


class Refused(Exception):
    """The request cannot be carried out; the message says why, in words a clinician can act on."""


class Forbidden(Refused):
    """The user's role may not do this (403)."""


class NotFound(Refused):
    """No such checklist, draft or checkpoint for this baby (404)."""


class Conflict(Refused):
    """It would contradict what is stored (409): not the latest version, already co-signed, and so on."""


class Invalid(Refused):
    """What was sent is not something NeoSafe can take as it stands (422, each issue an OperationOutcome issue):
    e.g. a draft that is not a QuestionnaireResponse of this checkpoint's checklist in use about this baby.

    A submission's issues are returned, not raised (`Submissions.save`), as the page redraws the form with them;
    this is for a use case whose answer is otherwise a thing kept, such as a draft.
    """

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues


class NotWritable(Conflict):
    """The assessment cannot be written: the baby or stay is not on the write-back source, or not this version."""


class AlreadySubmitted(Conflict):
    """A submission key already used for different answers, another baby or another user: not a repeat."""

    def __init__(self, assessment_id: str) -> None:
        super().__init__(
            f"this form was already saved, with different answers, as checklist {assessment_id}: "
            "to change an answer, open that checklist from the baby's page and amend it"
        )
        self.assessment_id = assessment_id


@dataclass
class Submitted:
    assessment_id: str
    entry: OutboxEntry  # as it stands after the first attempt to write it
