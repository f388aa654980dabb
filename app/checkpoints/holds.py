"""A discharge held by the discharge checklist's own findings: what they are, decided here once for every caller.

The findings, in words, and who may override each are data (fhir_mappings/discharge-holds.toml, which `neosafe
checklists lint` checks against the discharge checklist): FHIRPath over the checklist's answers. A checklist with
findings is stored and written like any other, but it is *held: not ready for discharge* until each is resolved by
an amendment whose answers no longer raise it, or overridden with a reason by a role the file names (overrides.py).
The same findings are the checklist's `%findings`, so a finding also asks for the named nurse's co-signature.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Self

from app.assessments import Assessment, assessment_chain, overrides_of
from app.config import ConfigError
from app.forms import Checklists, ExpressionError, prune
from app.forms.expressions import evaluate
from app.forms.lint import HOLDS, lint_holds
from app.handover import DischargeHold, Finding, Override
from app.picture import Picture

from .digests import answers_digest
from .drafts import Drafts
from .users import ROLES, User

__all__ = ["HoldRule", "Holds", "findings_of", "load_holds"]

CHECKPOINT = "discharge"


@dataclass(frozen=True)
class HoldRule:
    finding: Finding
    expression: str  # FHIRPath over the QuestionnaireResponse: true raises the finding
    override_roles: frozenset[str]  # role keys that may override it


def load_holds(path: Path, checklists: Checklists) -> list[HoldRule]:
    """The holds, or ConfigError naming each problem: NeoSafe never runs with a hold it cannot evaluate or that
    names a role it does not have."""
    problems = [str(p) for p in lint_holds(path, checklists.for_checkpoint(CHECKPOINT))]
    if problems:
        raise ConfigError("; ".join(problems))
    rules = []
    for hold in tomllib.loads(path.read_text(encoding="utf-8"))["holds"]:
        roles = hold.get("override_roles")
        if not isinstance(roles, list) or not roles or not set(roles) <= set(ROLES):
            raise ConfigError(f"{path.name}: {hold['id']}: override_roles must list roles of {sorted(ROLES)}")
        rules.append(HoldRule(Finding(hold["id"], hold["words"]), hold["expression"], frozenset(roles)))
    return rules


def findings_of(rules: list[HoldRule], response: dict[str, Any]) -> list[Finding]:
    """The findings `response` (its answers as stored: disabled items pruned) raises. A rule that cannot be
    evaluated holds: it must never let a baby go home unasked."""
    raised = []
    for rule in rules:
        try:
            hit = evaluate(rule.expression, resource=response, env={}) == [True]
        except ExpressionError:
            hit = True
        if hit:
            raised.append(rule.finding)
    return raised


class Holds(Drafts):
    @classmethod
    def wire(cls, *args: Any, **kwargs: Any) -> Self:
        """As Wiring's, and refusing to start (ConfigError) on holds that cannot be evaluated."""
        wired = super().wire(*args, **kwargs)
        _ = wired.hold_rules
        return wired

    @cached_property
    def hold_rules(self) -> list[HoldRule]:
        return load_holds(self.settings.mappings_dir / HOLDS, self.checklists)

    def env(
        self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The FHIRPath environment, with `%findings`: the ids of the findings `response` raises (none before
        there are answers, and none but at discharge)."""
        env = super().env(picture, checkpoint, user)
        return {**env, "findings": [f.id for f in self.findings(checkpoint, response, env)]}

    def findings(self, checkpoint: str, response: dict[str, Any] | None, env: dict[str, Any]) -> list[Finding]:
        """The findings of answers still being given: read as they would be stored (disabled items pruned)."""
        if checkpoint != CHECKPOINT or not response:
            return []
        try:
            questionnaire = self.checklists.for_response(response)
        except LookupError:
            questionnaire = self.checklists.for_checkpoint(CHECKPOINT)
        return findings_of(self.hold_rules, prune(questionnaire, response, {**env, "findings": []}))

    async def hold(self, latest: Assessment, record_id: str) -> DischargeHold | None:
        """What holds `latest` (the newest version of the checklist whose first version is `record_id`) from
        discharge, with every override made on that checklist; None unless it is a discharge checklist."""
        if latest.checkpoint != CHECKPOINT:
            return None
        response = json.loads(latest.response_json)
        by_id = {r.finding.id: r.finding for r in self.hold_rules}
        digest = answers_digest(response)
        return DischargeHold(
            assessment_id=latest.id,
            findings=tuple(findings_of(self.hold_rules, response)),
            overrides=tuple(
                Override(
                    finding=by_id.get(o.finding, Finding(o.finding, o.finding)),
                    by=f"{o.user_name} ({ROLES[o.role].label if o.role in ROLES else o.role})",
                    at=o.at,
                    reason=o.reason,
                    version=o.version,
                    current=o.answers_digest == digest,
                )
                for o in await overrides_of(self.sessions, record_id)
            ),
        )

    async def hold_of(self, assessment: Assessment) -> DischargeHold | None:
        """`hold` for a stored version (its checklist found from it)."""
        if assessment.checkpoint != CHECKPOINT:
            return None
        return await self.hold(assessment, (await assessment_chain(self.sessions, assessment.id))[0].assessment.id)
