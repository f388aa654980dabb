"""D10's *How NeoSafe sends it* follows D5 (the address the baby goes home to) whenever the checklist is saved, as
a draft or signed: the page shows, the record stores and the handover hands over the route delivery really uses.

Over HTTP, with no JavaScript: a second area (Fenmoor, postcode area FN) has teams of its own, with mailboxes in a
MESH sandbox of this module's; a D5 changed to a Fenmoor address shows, stores and delivers to the Fenmoor teams.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from app.checkpoints import Checkpoints
from app.config import SourceSettings
from app.delivery import Deliveries, deliveries_of
from app.forms import walk
from app.handover import NOT_REACHABLE, Recipients, load_routes, route_again
from app.main import create_app
from sandbox.mesh import DEMO_MAILBOXES, MeshSandbox
from tests.answering import completed, items_with
from tests.conftest import LiveServer
from tests.delivery.conftest import Delivering, mesh_settings
from tests.delivery.test_mesh_delivery import a_baby, going_home_to, received
from tests.servers import serving

FENMOOR = {
    "NSHV0002": ("Fenmoor Health Visiting Team", "FNHV1"),
    "NSCN0002": ("Fenmoor Community Neonatal Team", "FNCN1"),
}
TEAMS = """
[[team]]
kind = "health-visitor"
postcode_areas = ["FN"]
name = "Fenmoor Health Visiting Team"
ods_code = "FNHV1"
mailbox = "NSHV0002"

[[team]]
kind = "community-neonatal-team"
postcode_areas = ["FN"]
name = "Fenmoor Community Neonatal Team"
ods_code = "FNCN1"
mailbox = "NSCN0002"
"""
GOES_TO = "3 Fen Road, Fenmoor, FN2 4AB"
FENMOOR_HV = "NeoSafe sends it to Fenmoor Health Visiting Team (ODS FNHV1) by MESH mailbox NSHV0002"
RIVERSIDE_HV = "NeoSafe sends it to Riverside Health Visiting Team (ODS RNSHV) by MESH mailbox NSHV0001"
ROUTE, NAME = "D10-handover.recipient.route", "D10-handover.recipient.name"
MAPPINGS = Path(__file__).parents[2] / "fhir_mappings"


def _mappings(directory: Path) -> Path:
    copied = directory / "fhir_mappings"
    shutil.copytree(MAPPINGS, copied)
    delivery = copied / "delivery.toml"
    delivery.write_text(delivery.read_text(encoding="utf-8") + TEAMS, encoding="utf-8")
    return copied


@pytest.fixture(scope="module")
def two_areas(sources: list[SourceSettings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delivering]:
    work = tmp_path_factory.mktemp("two-areas")
    with MeshSandbox(work, mailboxes={**DEMO_MAILBOXES, **FENMOOR}) as mesh:
        settings = mesh_settings(work, mesh, mappings_dir=_mappings(work))
        with serving(create_app(settings, sources=sources)) as url:
            yield Delivering(LiveServer(url), settings, sources, mesh)


class _Form(HTMLParser):
    """What a browser posts for the page's form as drawn: each control's value (checked ones only)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") not in ("radio", "checkbox") or "checked" in a:
                self.values.setdefault(name, []).append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.values.setdefault(name, []).append("")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.values.setdefault(self._select, []).append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][-1] += data


def _as_posted(page: str) -> dict[str, list[str]]:
    form = _Form()
    form.feed(page)
    return form.values


def _routes_shown(page: str) -> list[str]:
    return re.findall(r"NeoSafe sends it to [^<]+|Not reachable: send by another means", page)


def _answers(response: dict[str, Any], link_id: str) -> list[str]:
    return [(i.get("answer") or [{}])[0].get("valueString", "") for i in items_with(response, link_id)]


def test_a_draft_with_another_address_shows_that_areas_teams_without_javascript(two_areas, fhir):
    baby = a_baby(fhir["neonatal"])  # the record's address: Riverside
    with two_areas.live.browser("nurse") as nurse:
        form = nurse.get(f"/patients/{baby}/checklists/discharge").text
        assert RIVERSIDE_HV in _routes_shown(form)  # from the record, as the form opens
        fields = _as_posted(form)  # as the browser posts it: every control, D5 changed
        [address] = [name for name in fields if name.endswith("D5-carers.home-address~0")]
        saved = nurse.post(
            f"/patients/{baby}/checklists/discharge", data={**fields, address: [GOES_TO], "intent": ["draft"]}
        )
        resumed = nurse.get(f"/patients/{baby}/checklists/discharge").text

    for page in (saved.text, resumed):
        shown = _routes_shown(page)
        assert FENMOOR_HV in shown and RIVERSIDE_HV not in shown
        assert "Fenmoor Community Neonatal Team (ODS FNCN1) by MESH mailbox NSCN0002" in " ".join(shown)
        assert "Millbrook Medical Practice (ODS Y90001)" in " ".join(shown)  # the GP: the registered practice still
    assert 'value="Fenmoor Health Visiting Team"' in resumed  # the name NeoSafe filled in follows the route


async def test_a_signed_checklist_stores_hands_over_and_delivers_the_routes_of_its_address(two_areas, fhir):
    baby = a_baby(fhir["neonatal"])
    with two_areas.live.client("nurse") as api:
        response = going_home_to(completed(api, baby, "discharge"), GOES_TO)  # its routes still the record's
        assert RIVERSIDE_HV in _answers(response, ROUTE)
        created = api.post(f"/api/patients/{baby}/assessments", json=response)
        assert created.status_code == 201, created.text
        record = created.json()["id"]
        stored = api.get(f"/api/patients/{baby}/assessments/{record}/versions").json()[-1]
    assert FENMOOR_HV in _answers(stored, ROUTE) and RIVERSIDE_HV not in _answers(stored, ROUTE)
    assert "Fenmoor Health Visiting Team" in _answers(stored, NAME)

    async with Checkpoints.wire(two_areas.settings, sources=two_areas.sources).running() as checkpoints:
        await Deliveries(checkpoints).run_once(datetime.now(UTC))
        rows = {r.kind: r for r in await deliveries_of(checkpoints.sessions, [record])}
    assert (rows["health-visitor"].address, rows["health-visitor"].state) == ("NSHV0002", "sent")
    assert (rows["community-neonatal-team"].address, rows["community-neonatal-team"].state) == ("NSCN0002", "sent")
    assert len(received(two_areas, "NSHV0002", baby)) == 1 and received(two_areas, "NSHV0001", baby) == []

    with two_areas.live.browser("community-nurse") as community:
        handover = community.get(f"/patients/{baby}/handover").raise_for_status().text
    assert FENMOOR_HV in handover and RIVERSIDE_HV not in handover


def test_an_address_no_team_covers_is_not_reachable_and_the_team_name_neosafe_filled_in_goes(two_areas, fhir):
    baby = a_baby(fhir["neonatal"])
    with two_areas.live.client("nurse") as api:
        response = going_home_to(completed(api, baby, "discharge"), "4 Far Lane, Elsewhere, ZZ9 9ZZ")
        refused = api.post(f"/api/patients/{baby}/assessments", json=response)
        # The nurse names whom to send it to by another means: never the Riverside teams, which do not cover it.
        for entry in items_with(response, "D10-handover.recipient"):
            for item in entry["item"]:
                if item["linkId"] == NAME and "Riverside" in str(item.get("answer")):
                    item["answer"] = [{"valueString": "Elsewhere team, by phone"}]
        created = api.post(f"/api/patients/{baby}/assessments", json=response)
        assert created.status_code == 201, created.text
        stored = api.get(f"/api/patients/{baby}/assessments/{created.json()['id']}/versions").json()[-1]

    assert refused.status_code == 422
    named = [i for i in refused.json()["issue"] if i["location"][0].endswith(f"/{NAME}~0")]
    assert [i["location"][0].split("/")[1] for i in named] == ["D10-handover.recipient~0", "D10-handover.recipient~2"]
    routes = {
        next(i["answer"][0]["valueCoding"]["code"] for i in e["item"] if i["linkId"].endswith(".type")): next(
            i["answer"][0]["valueString"] for i in e["item"] if i["linkId"] == ROUTE
        )
        for e in items_with(stored, "D10-handover.recipient")
    }
    assert routes == {
        "health-visitor": NOT_REACHABLE,
        "gp": "NeoSafe sends it to Millbrook Medical Practice (ODS Y90001) by MESH mailbox NSGP0001",
        "community-neonatal-team": NOT_REACHABLE,
        "community-midwife": NOT_REACHABLE,
    }


def test_route_again_keeps_a_name_the_nurse_wrote_and_routes_every_kind(two_areas):
    routes = load_routes(two_areas.settings.mappings_dir / "delivery.toml")
    recipients = Recipients(
        group="g", type="g.type", name="g.name", sent="s", received="r", received_by="b", received_date="d",
        address="home", route="g.route",
    )  # fmt: skip
    questionnaire = {
        "resourceType": "Questionnaire",
        "item": [
            {"linkId": "home", "type": "text"},
            {"linkId": "g", "type": "group", "repeats": True, "item": [
                {"linkId": "g.type", "type": "choice"}, {"linkId": "g.name", "type": "string"},
                {"linkId": "g.route", "type": "string", "readOnly": True},
            ]},
        ],
    }  # fmt: skip

    def entry(kind: str, name: str) -> dict[str, Any]:
        return {"linkId": "g", "item": [
            {"linkId": "g.type", "answer": [{"valueCoding": {"code": kind}}]},
            {"linkId": "g.name", "answer": [{"valueString": name}]},
        ]}  # fmt: skip

    response = {
        "item": [
            {"linkId": "home", "answer": [{"valueString": GOES_TO}]},
            entry("health-visitor", "Hannah Lee, our health visitor"),  # written by the nurse: kept
            entry("community-midwife", "Riverside Health Visiting Team"),  # a team name, but not of this kind
            entry("recipient-social-worker", "Priya Ramsden"),
        ]
    }
    route_again(questionnaire, response, recipients, routes, {})

    by_entry = [{i["linkId"]: i["answer"][0]["valueString"] for i in e["item"][1:]} for e in response["item"][1:]]
    assert by_entry == [
        {"g.name": "Hannah Lee, our health visitor", "g.route": FENMOOR_HV},
        {"g.name": "Riverside Health Visiting Team", "g.route": NOT_REACHABLE},
        {"g.name": "Priya Ramsden", "g.route": NOT_REACHABLE},  # social workers have no route kind yet
    ]
    assert [n.q["linkId"] for n in walk(questionnaire, response)][-2:] == ["g.name", "g.route"]  # in item order
