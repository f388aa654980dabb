"""The handover summary for the community team, shown on request and written with each transfer and discharge."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from app.assessments import Assessment, latest_assessments
from app.handover import (
    SUMMARIES,
    Handover,
    PdfUnavailable,
    build_handover,
    document_html,
    handover_communications,
    handover_document,
    pdf_of,
)
from app.picture import Picture

from .records import Records
from .redaction import seen_by
from .summary import summary_for
from .users import ROLES, User

__all__ = ["DOCUMENT_READER", "Handovers"]

# Whom the summary written to the baby's record is drawn for: the community team, who do not see restricted
# records' detail (they see that one exists and whom to ask).
DOCUMENT_READER = User("neosafe-handover", "NeoSafe handover summary", ROLES["community-nurse"])


def _newest(assessments: list[Assessment]) -> dict[str, Assessment]:
    """The newest version of each checkpoint's checklist."""
    newest: dict[str, Assessment] = {}
    for assessment in sorted(assessments, key=lambda a: a.created_at):
        newest[assessment.checkpoint] = assessment
    return newest


class Handovers(Records):
    async def handover(
        self,
        picture: Picture,
        user: User,
        *,
        saving: Assessment | None = None,
        saving_record: str | None = None,
        checkpoint: str | None = None,
    ) -> Handover:
        """The summary from the picture as `user` may see it and the baby's newest checklists (with `saving`, a
        checklist about to be stored as a version of `saving_record`, as the newest of its kind), and what holds
        the newest discharge checklist and which still waits for a co-signature. Made for `checkpoint`, or, by
        default, for the discharge unless the newest of the transfer and discharge checklists is a transfer."""
        rows = await latest_assessments(self.sessions, nhs_number=picture.baby.nhs_number or "")
        assessments = [row.assessment for row in rows] + ([saving] if saving else [])
        newest = _newest(assessments)
        discharge = newest.get("discharge")
        if discharge is not None and discharge is saving and saving_record:
            hold = await self.hold(discharge, saving_record)
        else:
            hold = await self.hold_of(discharge) if discharge is not None else None
        if checkpoint is None:
            leaving = [a for c, a in newest.items() if c in SUMMARIES]
            checkpoint = max(leaving, key=lambda a: a.created_at).checkpoint if leaving else "discharge"
        awaiting = {
            a.id: tuple(s["display"] for s in self.signatures_missing(picture, a, user)) for a in newest.values()
        }
        return build_handover(
            # the CP-IS access history is not handed over: it says who looked at a child's CP-IS record, told the
            # clinician who asked under her own access; the community team's own CP-IS access shows it to them
            replace(seen_by(picture, user), access_history=[]),
            assessments,
            self.checklists,
            self.handover_sections,
            self.task_rules,
            now=self.clock(),
            hold=hold,
            checkpoint=checkpoint,
            awaiting=awaiting,
            names=self.mappings.source_labels,
        )

    async def handover_pdf(self, picture: Picture, user: User) -> bytes:
        """The summary as a PDF, as `user` may see it; PdfUnavailable where this server cannot lay one out."""
        handover = await self.handover(picture, user)
        html = document_html(
            self.document_env, handover, self.mappings.source_labels, summary=summary_for(self, handover.picture)
        )
        return await asyncio.to_thread(pdf_of, html)  # layout is CPU work: keep it off the event loop

    async def written_with(
        self,
        picture: Picture,
        checkpoint: str,
        response: dict[str, Any],
        *,
        assessment_id: str,
        record_id: str,
        version: int,
    ) -> list[dict[str, Any]]:
        """At transfer the summary, and at discharge the summary and a Communication per recipient, go to the
        baby's record in the checklist's own transaction: written exactly when the checklist is, and kept current
        by each amendment or co-signature."""
        if checkpoint not in SUMMARIES:
            return []
        saving = Assessment(
            id=assessment_id,
            nhs_number=picture.baby.nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=response["questionnaire"],
            response_json=json.dumps(response),
            sources_json="[]",
            author_id="",
            author_role="",
            status=response["status"],
            version=version,
            amends=record_id if record_id != assessment_id else None,  # so its first version is found: one reference
            created_at=self.clock(),  # newer than every stored version: it is the one the summary uses
        )
        handover = await self.handover(
            picture, DOCUMENT_READER, saving=saving, saving_record=record_id, checkpoint=checkpoint
        )
        html = document_html(
            self.document_env,
            handover,
            self.mappings.source_labels,
            summary=summary_for(self, handover.picture),
            title=SUMMARIES[checkpoint][0],
        )
        try:
            pdf = await asyncio.to_thread(pdf_of, html)
        except PdfUnavailable:
            pdf = None  # the HTML alone still hands everything over
        sent = (
            handover_communications(
                self.checklists.for_response(response), response, self.handover_recipients, record_id=record_id
            )
            if self.handover_recipients and checkpoint == "discharge"
            else []
        )
        return [handover_document(response, checkpoint=checkpoint, record_id=record_id, html=html, pdf=pdf), *sent]
