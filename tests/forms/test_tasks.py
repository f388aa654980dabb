"""Answers that raise a task, read from fhir_mappings/tasks.toml: which, owned by whom, due when."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.task import Task

from app.config import ConfigError
from app.forms import enabled_paths, load_checklists, load_task_rules, raised_tasks, task_resource, with_every_item
from app.forms.tree import definitions

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS = load_checklists(ROOT / "checklists")
RULES = load_task_rules(ROOT / "fhir_mappings" / "tasks.toml", CHECKLISTS)
ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
AUTHORED = "2026-11-26T10:00:00+00:00"
# The date to ask her again may not be in the past (minValue today()): two days from today, on the unit's clock.
RETRY = (datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=2)).isoformat()


def rules(checkpoint: str):
    return [r for r in RULES if r.checkpoint == checkpoint]


def coding(code: str, display: str | None = None) -> dict:
    return {"valueCoding": {"system": ITEM, "code": code, **({"display": display} if display else {})}}


def group(link_id: str, *children: dict) -> dict:
    return {"linkId": link_id, "item": list(children)}


def answered(link_id: str, *answers: dict) -> dict:
    return {"linkId": link_id, "answer": list(answers)}


def response(*items: dict) -> dict:
    return {"resourceType": "QuestionnaireResponse", "authored": AUTHORED, "item": list(items)}


def test_every_promise_in_the_checklists_has_a_rule():
    raising = {(r.checkpoint, r.item) for r in RULES}
    assert ("admission", "A10-concern-now.details") in raising
    assert ("discharge", "D12-concern-at-discharge.details") in raising
    assert {c for c, _ in raising} == {"admission", "transfer", "discharge", "review-72h", "weekly", "father-day7"}
    promising = {
        (checkpoint, item["linkId"])
        for checkpoint, q in CHECKLISTS.by_checkpoint.items()
        for item in definitions(q)
        if any("task" in (h.get("text") or "").lower() and h.get("type") == "display" for h in item.get("item") or [])
        and item.get("type") != "group"
        and not _only_reads_tasks(item)
    }
    assert {p for p in promising if not _has_rule(p, raising)} == set()


def _only_reads_tasks(item: dict) -> bool:
    """A help text that points at tasks already open (R3, D13) promises none."""
    texts = [(h.get("text") or "").lower() for h in item.get("item") or []]
    return any("open tasks" in t or "close each task" in t for t in texts)


def _has_rule(promise: tuple[str, str], raising: set[tuple[str, str]]) -> bool:
    """The question itself raises the task, or one asked under it does (its details / plan)."""
    checkpoint, link_id = promise
    group = link_id.rsplit(".", 1)[0]
    return any(c == checkpoint and (i == link_id or i.startswith(group + ".")) for c, i in raising)


def test_an_enquiry_not_done_safely_raises_a_safeguarding_team_task_due_on_the_date_given():
    admission = response(
        group(
            "A8-da-enquiry-private",
            answered("A8-da-enquiry-private.asked-alone", coding("da-asked-others-present", "No: partner present")),
            answered("A8-da-enquiry-private.interpreter", coding("interpreter-not-needed", "Not needed")),
            answered("A8-da-enquiry-private.date", {"valueDate": "2026-11-26"}),
            answered("A8-da-enquiry-private.not-done-reason", {"valueString": "Partner always present"}),
            answered("A8-da-enquiry-private.retry-date", {"valueDate": RETRY}),
        )
    )

    [task] = raised_tasks(CHECKLISTS.for_checkpoint("admission"), admission, rules("admission"))

    assert task.rule.description.startswith("Domestic-abuse enquiry not done safely")
    assert task.detail == "No: partner present; Not needed; Partner always present"
    assert (task.due, task.owner) == (RETRY, "Safeguarding team, with the named neonatal nurse")
    assert task.path == "A8-da-enquiry-private~0/A8-da-enquiry-private.not-done-reason~0"


def test_a2_not_known_raises_a_safeguarding_team_task_and_a_known_answer_none():
    def a2(code: str) -> dict:
        return response(
            group("A2-social-care-involvement", answered("A2-social-care-involvement.status", coding(code)))
        )

    questionnaire = CHECKLISTS.for_checkpoint("admission")
    for known in ("social-care-current", "social-care-past-closed", "social-care-none-known"):
        assert raised_tasks(questionnaire, a2(known), rules("admission")) == []
    [task] = raised_tasks(questionnaire, a2("not-known"), rules("admission"))
    assert (task.owner, task.due) == ("Safeguarding team", "2026-11-27")


def test_only_the_coded_answer_named_raises_the_dash_task():
    def dash(code: str) -> dict:
        return response(group("A9-da-risk-assessment", answered("A9-da-risk-assessment.dash-status", coding(code))))

    questionnaire = CHECKLISTS.for_checkpoint("admission")
    assert raised_tasks(questionnaire, dash("dash-completed"), rules("admission")) == []
    [task] = raised_tasks(questionnaire, dash("dash-not-yet-completed"), rules("admission"))
    assert task.due == "2026-11-27"  # the day after the checklist


def test_each_outstanding_action_moves_with_the_baby_owned_and_dated_as_answered():
    def action(kind: str, what: str, owner: str, due: str) -> dict:
        return group(
            "T4-outstanding-actions.action",
            answered("T4-outstanding-actions.action.type", coding(kind, kind.removeprefix("action-").capitalize())),
            answered("T4-outstanding-actions.action.description", {"valueString": what}),
            answered("T4-outstanding-actions.action.owner", {"valueString": owner}),
            answered("T4-outstanding-actions.action.due", {"valueDate": due}),
        )

    transfer = response(
        group(
            "T4-outstanding-actions",
            answered("T4-outstanding-actions.any", {"valueBoolean": True}),
            action("action-da-enquiry", "Private DA enquiry", "Receiving unit named nurse", "2026-11-27"),
            action("action-meeting", "Strategy meeting", "Social worker J Smith", "2026-12-01"),
        )
    )

    tasks = raised_tasks(CHECKLISTS.for_checkpoint("transfer"), transfer, rules("transfer"))

    assert [(t.owner, t.due) for t in tasks] == [
        ("Receiving unit named nurse", "2026-11-27"),
        ("Social worker J Smith", "2026-12-01"),
    ]
    assert tasks[1].detail == "Meeting; Strategy meeting"


def test_a_task_is_an_r4_task_for_the_baby_from_the_checklist():
    admission = response(
        group(
            "A10-concern-now",
            answered("A10-concern-now.concern", {"valueBoolean": True}),
            answered("A10-concern-now.details", {"valueString": "Bruise on the left arm"}),
        )
    )
    admission |= {"subject": {"reference": "Patient/p1"}, "author": {"display": "Alex Morgan (Neonatal nurse)"}}
    [raised] = raised_tasks(CHECKLISTS.for_checkpoint("admission"), admission, rules("admission"))

    task = task_resource(raised, admission, response_reference="urn:uuid:qr", identifier="a-1")

    Task.model_validate(task)
    assert task["identifier"][0]["value"] == f"a-1/{raised.path}"
    assert (task["status"], task["intent"], task["priority"]) == ("requested", "order", "asap")
    assert task["description"].endswith(": Bruise on the left arm")
    assert task["restriction"]["period"]["end"] == "2026-11-26"  # the same day
    assert (task["for"], task["focus"]) == ({"reference": "Patient/p1"}, {"reference": "urn:uuid:qr"})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('item = "A10-gone"', "the admission checklist has no item 'A10-gone'"),
        ('due = "tomorrow"', "due must be P<n>D"),
        ('priority = "soon"', "priority must be one of routine, urgent, asap, stat"),
        ('owner = "item:A10-nobody"', "the admission checklist has no item 'A10-nobody'"),
    ],
)
def test_a_broken_rule_fails_at_start_up(tmp_path, rule, message):
    fields = {
        "checkpoint": '"admission"',
        "item": '"A10-concern-now.details"',
        "description": '"Act"',
        "owner": '"Named nurse"',
        "due": '"P0D"',
        "priority": '"asap"',
    }
    key = rule.split(" = ")[0]
    fields[key] = rule.split(" = ")[1]
    path = tmp_path / "tasks.toml"
    path.write_text("[[tasks]]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items()))

    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("<", "<")):
        load_task_rules(path, CHECKLISTS)


IN_STAY = [
    # checkpoint, group, the question and the answers that open its details / plan, that item, the owner, due day
    (
        "weekly",
        "W1-unexplained-injury",
        "W1-unexplained-injury.any",
        "W1-unexplained-injury.details",
        "Safeguarding team",
        "2026-11-26",
    ),
    (
        "weekly",
        "W2-visiting-engagement",
        "W2-visiting-engagement.concern",
        "W2-visiting-engagement.details",
        "Named neonatal nurse, with the safeguarding team",
        "2026-11-27",
    ),
    (
        "father-day7",
        "F2-unrecorded-male-carer",
        "F2-unrecorded-male-carer.any",
        "F2-unrecorded-male-carer.details",
        "Named neonatal nurse, with the safeguarding team",
        "2026-11-27",
    ),
    (
        "review-72h",
        "R2-new-since-admission",
        "R2-new-since-admission.any",
        "R2-new-since-admission.details",
        "Named neonatal nurse, with the safeguarding team",
        "2026-11-27",
    ),
    (
        "review-72h",
        "R3-admission-actions",
        "R3-admission-actions.open",
        "R3-admission-actions.plan",
        "Named neonatal nurse",
        "2026-11-27",
    ),
]


@pytest.mark.parametrize(("checkpoint", "group_id", "question", "details", "owner", "due"), IN_STAY)
@pytest.mark.parametrize("code", ["yes", "not-known"])
def test_an_in_stay_yes_or_not_known_raises_an_owned_dated_task(
    checkpoint, group_id, question, details, owner, due, code
):
    checked = response(
        group(group_id, answered(question, coding(code)), answered(details, {"valueString": "Seen on the ward"}))
    )
    questionnaire = CHECKLISTS.for_checkpoint(checkpoint)

    [task] = raised_tasks(questionnaire, checked, rules(checkpoint))

    assert (task.owner, task.due) == (owner, due)
    assert task.detail.endswith("Seen on the ward")
    # the question that raises it is asked on this answer, so a careless "not known" still leaves a task
    assert any(p.startswith(f"{group_id}~0/{details}~0") for p in _enabled(questionnaire, checked))


@pytest.mark.parametrize(("checkpoint", "group_id", "question", "details", "owner", "due"), IN_STAY)
def test_an_in_stay_no_asks_nothing_more_and_raises_no_task(checkpoint, group_id, question, details, owner, due):
    checked = response(group(group_id, answered(question, coding("no"))))
    questionnaire = CHECKLISTS.for_checkpoint(checkpoint)

    assert raised_tasks(questionnaire, checked, rules(checkpoint)) == []
    assert not any(details in p for p in _enabled(questionnaire, checked))


def _enabled(questionnaire: dict, checked: dict) -> set[str]:
    env = {"picture": {"records": [], "sources": [], "people": [], "baby": {}, "openTasks": 0}}
    return enabled_paths(questionnaire, with_every_item(questionnaire, checked), env)


def test_w1_nim_protocol_not_started_raises_a_stat_task_and_started_none():
    def weekly(code: str) -> dict:
        return response(
            group(
                "W1-unexplained-injury",
                answered("W1-unexplained-injury.any", coding("yes")),
                answered("W1-unexplained-injury.details", {"valueString": "Bruise on the ear"}),
                answered("W1-unexplained-injury.nim-protocol", coding(code)),
            )
        )

    questionnaire = CHECKLISTS.for_checkpoint("weekly")
    started = raised_tasks(questionnaire, weekly("nim-protocol-started"), rules("weekly"))
    assert [t.rule.item for t in started] == ["W1-unexplained-injury.details"]
    tasks = raised_tasks(questionnaire, weekly("nim-protocol-not-started"), rules("weekly"))
    [nim] = [t for t in tasks if t.rule.item == "W1-unexplained-injury.nim-protocol"]
    assert (nim.rule.priority, nim.due) == ("stat", "2026-11-26")


@pytest.mark.parametrize("seen", ["no", "not-known"])
def test_f1_each_man_not_seen_or_not_known_raises_his_own_task_for_the_named_nurse(seen):
    def man(name: str, code: str, **more: dict) -> dict:
        items = [
            answered("F1-male-carers.man.name", {"valueString": name}),
            answered("F1-male-carers.man.seen", coding(code)),
        ]
        return group("F1-male-carers.man", *items, *(answered(k, v) for k, v in more.items()))

    checked = response(
        group(
            "F1-male-carers",
            man("Piotr V", "yes", **{"F1-male-carers.man.date": {"valueDate": "2026-11-25"}}),
            man("Tom P", seen, **{"F1-male-carers.man.plan": {"valueString": "Ask him in on Friday"}}),
        )
    )

    [task] = raised_tasks(CHECKLISTS.for_checkpoint("father-day7"), checked, rules("father-day7"))

    assert (task.owner, task.due) == ("Named neonatal nurse", "2026-11-28")
    assert task.detail.startswith("Tom P") and task.detail.endswith("Ask him in on Friday")


def test_r4_a_concern_raises_a_same_day_task_for_the_named_nurse_for_safeguarding():
    checked = response(
        group(
            "R4-concern-now",
            answered("R4-concern-now.concern", {"valueBoolean": True}),
            answered("R4-concern-now.details", {"valueString": "Mother says partner hit her"}),
        )
    )

    [task] = raised_tasks(CHECKLISTS.for_checkpoint("review-72h"), checked, rules("review-72h"))

    assert (task.due, task.rule.priority) == ("2026-11-26", "asap")
    assert task.owner.startswith("Named nurse for safeguarding")
