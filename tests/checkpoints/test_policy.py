"""Who may do what, decided once (app.checkpoints.policy) and enforced by the use cases, not by the routes."""

from __future__ import annotations

import pytest

from app.checkpoints import DEMO_USERS, Action, Forbidden, may, require

CHECKPOINTS = ("admission", "transfer", "discharge")

# The role table as the clinical-safety lead reviews it: role -> checkpoints it completes, and what else it may do.
EXPECTED = {
    "nurse": ({"admission", "transfer", "discharge"}, {Action.SEE_RESTRICTED}),
    "discharge-coordinator": ({"transfer", "discharge"}, {Action.SEE_RESTRICTED}),
    "community-nurse": (set(), set()),
    "safeguarding-lead": ({"admission", "transfer", "discharge"}, {Action.SEE_RESTRICTED, Action.RESEND}),
}


@pytest.mark.parametrize("role", EXPECTED)
def test_each_role_may_do_exactly_what_the_table_says(role: str):
    user = DEMO_USERS[role]
    completes, others = EXPECTED[role]
    assert {c for c in CHECKPOINTS if may(user, Action.COMPLETE, checkpoint=c)} == completes
    assert {a for a in (Action.SEE_RESTRICTED, Action.RESEND) if may(user, a)} == others
    assert may(user, Action.VIEW)
    assert not may(user, Action.COMPLETE, checkpoint="no-such-checkpoint")
    assert not may(user, Action.COMPLETE)  # no checkpoint named: nothing to complete


def test_only_the_safeguarding_lead_co_signs_and_never_their_own_checklist():
    lead = DEMO_USERS["safeguarding-lead"]
    assert may(lead, Action.COSIGN, author_id="demo-nurse")
    assert not may(lead, Action.COSIGN, author_id=lead.id)
    for role in ("nurse", "discharge-coordinator", "community-nurse"):
        assert not may(DEMO_USERS[role], Action.COSIGN, author_id="someone-else")


def test_a_refusal_says_why_in_words_a_clinician_can_act_on():
    with pytest.raises(Forbidden, match="cannot complete the admission checklist"):
        require(DEMO_USERS["discharge-coordinator"], Action.COMPLETE, checkpoint="admission")
    with pytest.raises(Forbidden, match="only the safeguarding lead"):
        require(DEMO_USERS["nurse"], Action.RESEND)
    require(DEMO_USERS["nurse"], Action.COMPLETE, checkpoint="admission")  # allowed: no exception


def test_an_action_the_policy_does_not_know_is_an_error_not_a_yes():
    with pytest.raises(ValueError):
        may(DEMO_USERS["safeguarding-lead"], "delete-everything")
