"""Pre-population (SDC $populate): initial values, initialExpression, itemPopulationContext repeats, issues."""

from __future__ import annotations

from app.forms import add_repeats, populate, repeat_key, with_every_item
from tests.forms.builders import (
    SUBJECT,
    initial_expression,
    items_with,
    make_coding,
    make_group,
    make_help,
    make_item,
    make_questionnaire,
    max_occurs,
    population_context,
)

PICTURE = {
    "baby": {"preterm": True, "gestationWeeks": 26.5},
    "people": [
        {"role": "baby", "name": "Baby B"},
        {"role": "mother", "name": "Anna B", "nhsNumber": "9990000034"},
        {"role": "father", "name": "Piotr B", "nhsNumber": None},
    ],
    "records": [{"category": "domestic-abuse", "personRole": "mother", "current": False}],
    "sources": [{"name": "maternity", "status": "found"}, {"name": "cpis", "status": "unavailable"}],
}


def run(q: dict, picture: dict | None = None):
    return populate(q, env={"picture": picture or PICTURE}, subject=SUBJECT, encounter={"reference": "Encounter/e"})


def test_a_new_response_names_the_versioned_questionnaire_subject_and_encounter():
    q = make_questionnaire(make_item("a", "string"))

    populated = run(q)

    assert populated.response == {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://neosafe.org.uk/fhir/Questionnaire/test|0.0.1",
        "status": "in-progress",
        "subject": SUBJECT,
        "encounter": {"reference": "Encounter/e"},
        "item": [{"linkId": "a", "text": "A"}],
    }
    assert populated.issues == []


def test_initial_values_and_typed_initial_expressions():
    q = make_questionnaire(
        make_item("fixed", "string", initial=[{"valueString": "as given"}]),
        make_item("preterm", "boolean", extensions=[initial_expression("%picture.baby.preterm")]),
        make_item("weeks", "decimal", extensions=[initial_expression("%picture.baby.gestationWeeks")]),
        make_item(
            "adults", "integer", extensions=[initial_expression("%picture.people.where(role != 'baby').count()")]
        ),
        make_item("seen", "date", extensions=[initial_expression("@2026-11-20")]),
        make_item("mother", "string", extensions=[initial_expression("%picture.people.where(role = 'mother').name")]),
        make_item(
            "da",
            "choice",
            options=["yes", "no"],
            extensions=[initial_expression("iif(%picture.records.where(category = 'domestic-abuse').exists(), 'yes')")],
        ),
        make_item("help-only", "string", make_help("help-only.help")),
    )

    populated = run(q)

    assert [i.get("answer") for i in populated.response["item"]] == [
        [{"valueString": "as given"}],
        [{"valueBoolean": True}],
        [{"valueDecimal": 26.5}],
        [{"valueInteger": 2}],
        [{"valueDate": "2026-11-20"}],
        [{"valueString": "Anna B"}],
        [{"valueCoding": make_coding("yes")}],
        None,
    ]
    assert "item" not in populated.response["item"][-1]  # help text is not part of the response
    assert populated.issues == []


def test_nothing_found_leaves_the_answer_for_the_clinician():
    q = make_questionnaire(
        make_item("da", "choice", options=["yes"], extensions=[initial_expression("%picture.records.where(false)")])
    )

    assert run(q).response["item"] == [{"linkId": "da", "text": "Da"}]


def test_item_population_context_makes_one_entry_per_element_with_its_own_answers():
    q = make_questionnaire(
        make_group(
            "household",
            make_group(
                "person",
                make_item("name", "string", extensions=[initial_expression("%person.name")]),
                make_item(
                    "role",
                    "choice",
                    options=["mother", "father"],
                    extensions=[initial_expression("%person.role")],
                ),
                make_item("nhs-number", "string", extensions=[initial_expression("%person.nhsNumber")]),
                make_item("seen", "boolean"),
                repeats=True,
                extensions=[population_context("%picture.people.where(role != 'baby')", "person")],
            ),
        )
    )

    populated = run(q)

    people = items_with(populated.response, "person")
    assert [[i.get("answer") for i in p["item"]] for p in people] == [
        [[{"valueString": "Anna B"}], [{"valueCoding": make_coding("mother")}], [{"valueString": "9990000034"}], None],
        [[{"valueString": "Piotr B"}], [{"valueCoding": make_coding("father")}], None, None],
    ]
    assert populated.issues == []


def test_nested_population_contexts_see_the_outer_variable():
    q = make_questionnaire(
        make_group(
            "source",
            make_item("name", "string", extensions=[initial_expression("%source.name")]),
            make_group(
                "record",
                make_item(
                    "category", "string", extensions=[initial_expression("%record.category + '@' + %source.name")]
                ),
                repeats=True,
                extensions=[population_context("%picture.records.where(%source.status = 'found')", "record")],
            ),
            repeats=True,
            extensions=[population_context("%picture.sources", "source")],
        )
    )

    response = run(q).response

    assert [i["answer"][0]["valueString"] for i in items_with(response, "category") if i.get("answer")] == [
        "domestic-abuse@maternity"
    ]
    assert len(items_with(response, "record")) == 2  # the unavailable source still gets one (empty) entry


def test_an_empty_population_context_still_offers_one_entry_to_fill_in():
    q = make_questionnaire(
        make_group(
            "carer",
            make_item("name", "string"),
            repeats=True,
            extensions=[population_context("%picture.people.where(role = 'carer')", "carer")],
        )
    )

    assert run(q).response["item"] == [
        {"linkId": "carer", "text": "Carer", "item": [{"linkId": "name", "text": "Name"}]}
    ]


def test_a_failing_expression_is_reported_and_population_goes_on():
    q = make_questionnaire(
        make_item("broken", "string", text="Source status", extensions=[initial_expression("%picture.sources.where(")]),
        make_group(
            "carer",
            make_item("name", "string"),
            text="Carers",
            repeats=True,
            extensions=[population_context("%nosuchvariable.people", "carer")],
        ),
        make_item("fine", "string", extensions=[initial_expression("%picture.people.first().name")]),
    )

    populated = run(q)

    assert populated.issues == [
        "Could not pre-fill 'Source status': enter it by hand.",
        "Could not pre-fill 'Carers': add the entries by hand.",
    ]
    assert [i.get("answer") for i in populated.response["item"]] == [None, None, [{"valueString": "Baby B"}]]


def test_a_value_that_does_not_fit_the_question_is_reported_not_silently_dropped():
    q = make_questionnaire(
        make_item("role", "choice", text="Role", options=["mother"], extensions=[initial_expression("'uncle'")]),
        make_item("count", "integer", text="Count", extensions=[initial_expression("%picture.baby.gestationWeeks")]),
    )

    populated = run(q)

    assert [i.get("answer") for i in populated.response["item"]] == [None, None]
    assert len(populated.issues) == 2
    assert populated.issues[0].startswith("Could not pre-fill 'Role'")


def test_a_prefilled_coding_is_the_questions_own_option():
    q = make_questionnaire(
        make_item(
            "need",
            "choice",
            options=["interpreter"],
            extensions=[initial_expression("%questionnaire.item.answerOption.valueCoding.first()")],
        )
    )

    assert run(q).response["item"][0]["answer"] == [{"valueCoding": make_coding("interpreter")}]


def test_add_repeats_grows_repeating_groups_where_the_form_asks():
    q = make_questionnaire(
        make_group(
            "recipient",
            make_item("name", "string"),
            make_group("contact", make_item("phone", "string"), repeats=True),
            repeats=True,
        ),
        make_group("single", make_item("x", "string")),
    )
    response = run(q).response

    add_repeats(
        q,
        response,
        {repeat_key("", "recipient"): 2, repeat_key("recipient~1/", "contact"): 3, repeat_key("", "single"): 4},
    )

    recipients = items_with(response, "recipient")
    assert len(recipients) == 2
    assert [len([c for c in r["item"] if c["linkId"] == "contact"]) for r in recipients] == [1, 3]
    assert len(items_with(response, "single")) == 1  # only repeating groups grow


def test_add_repeats_stops_at_max_occurs():
    q = make_questionnaire(make_group("carer", make_item("name", "string"), repeats=True, extensions=[max_occurs(2)]))
    response = run(q).response

    add_repeats(q, response, {repeat_key("", "carer"): 5})

    assert len(items_with(response, "carer")) == 2


def test_a_stored_checklist_gets_back_every_question_to_amend_answers_kept_and_nothing_dropped():
    questionnaire = make_questionnaire(
        make_group("father", make_item("seen", "boolean"), make_item("date", "date"), make_item("plan", "text")),
        make_group("carers", make_item("name"), repeats=True),
        make_item("concern", "boolean"),
    )
    stored = {  # as prune keeps it: only what applied, with two carers
        "resourceType": "QuestionnaireResponse",
        "item": [
            {"linkId": "father", "item": [{"linkId": "seen", "answer": [{"valueBoolean": True}]}]},
            {"linkId": "carers", "item": [{"linkId": "name", "answer": [{"valueString": "Piotr"}]}]},
            {"linkId": "carers", "item": [{"linkId": "name", "answer": [{"valueString": "Ewa"}]}]},
            {"linkId": "retired-item", "answer": [{"valueString": "kept"}]},
        ],
    }

    full = with_every_item(questionnaire, stored)

    father, *carers, concern, retired = full["item"]
    assert [i["linkId"] for i in father["item"]] == ["seen", "date", "plan"]
    assert father["item"][0]["answer"] == [{"valueBoolean": True}] and "answer" not in father["item"][2]
    assert [c["item"][0]["answer"][0]["valueString"] for c in carers] == ["Piotr", "Ewa"]
    assert concern["linkId"] == "concern" and "answer" not in concern
    assert retired == {"linkId": "retired-item", "answer": [{"valueString": "kept"}]}
    assert len(stored["item"][0]["item"]) == 1  # the stored checklist itself is untouched
