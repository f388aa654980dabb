"""fhir_mappings/delivery.toml: routes found from the baby's record, and a broken file refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import ConfigError
from app.delivery import load_routes
from app.handover import NOT_REACHABLE, home_address, recipient_entries
from app.handover.routes import ODS_SYSTEM

MAPPINGS = Path(__file__).parents[2] / "fhir_mappings"


def test_the_gp_comes_from_the_registered_practice_and_the_teams_from_the_address():
    routes = load_routes(MAPPINGS / "delivery.toml")
    baby = {
        "generalPractitioner": [{"identifier": {"system": ODS_SYSTEM, "value": "y90001"}}],
        "address": [
            {"use": "home", "postalCode": "ZZ1 1ZZ", "period": {"end": "2026-01-01"}},  # moved away: not used
            {"use": "home", "postalCode": "rv3 1ab"},
        ],
    }

    assert routes.route_for("gp", baby).mailbox == "NSGP0001"
    assert routes.route_for("health-visitor", baby).mailbox == "NSHV0001"
    assert routes.route_for("community-neonatal-team", baby).mailbox == "NSCN0001"
    assert routes.route_for("community-midwife", baby) is None
    assert routes.route_for("gp", {}) is None  # no registered practice: not reachable, never a guess
    assert routes.route_for("health-visitor", {"address": [{"district": "Riverside"}]}).ods_code == "RNSHV"


def test_the_address_the_discharge_checklist_gives_is_used_instead_of_the_records():
    routes = load_routes(MAPPINGS / "delivery.toml")
    on_record = {"address": [{"use": "home", "postalCode": "RV3 1AB"}]}  # the record's: Riverside
    elsewhere = {"address": [{"use": "home", "postalCode": "ZZ9 9ZZ"}]}

    # Going home somewhere else: never sent to the team of the address on the record.
    assert routes.route_for("health-visitor", on_record, address="4 Far Lane, Elsewhere, ZZ9 9ZZ") is None
    assert routes.route_for("health-visitor", elsewhere, address="Flat 2, 4 Mill Lane\nrv3 2cd").ods_code == "RNSHV"
    assert routes.route_for("community-neonatal-team", elsewhere, address="4 Mill Lane, Riverside").ods_code == "RNSCN"
    assert routes.route_for("health-visitor", elsewhere, address="4 Riverside Road, ZZ9 9ZZ") is None  # not a part
    # No address in the checklist (a version before it asked, or left blank): the record's.
    assert routes.route_for("health-visitor", on_record, address="  ").ods_code == "RNSHV"
    assert routes.route_for("health-visitor", on_record).ods_code == "RNSHV"
    # The GP practice is the registered one, wherever the baby goes home to.
    registered = {"generalPractitioner": [{"identifier": {"system": ODS_SYSTEM, "value": "Y90001"}}]}
    assert routes.route_for("gp", registered, address="4 Far Lane, ZZ9 9ZZ").mailbox == "NSGP0001"


def test_the_checklist_is_prefilled_with_each_recipient_and_how_it_is_sent():
    routes = load_routes(MAPPINGS / "delivery.toml")
    baby = {
        "generalPractitioner": [{"identifier": {"system": ODS_SYSTEM, "value": "Y90001"}}],
        "address": [{"use": "home", "line": ["12 Mill Lane"], "city": "Riverside", "postalCode": "RV3 1AB"}],
    }

    entries = recipient_entries(routes, baby, social_workers=["Priya Ramsden, 01632 960001 (Fenmoor LA)"])

    assert [(e["kind"], e["name"]) for e in entries] == [
        ("health-visitor", "Riverside Health Visiting Team"),
        ("gp", "Millbrook Medical Practice"),
        ("community-neonatal-team", "Riverside Community Neonatal Team"),
        ("community-midwife", None),  # none found: left for the nurse to name
        ("recipient-social-worker", "Priya Ramsden, 01632 960001 (Fenmoor LA)"),
    ]
    assert (
        entries[0]["route"] == "NeoSafe sends it to Riverside Health Visiting Team (ODS RNSHV) by MESH mailbox NSHV0001"
    )
    assert [e["route"] for e in entries[3:]] == [NOT_REACHABLE, NOT_REACHABLE]
    assert home_address(baby) == "12 Mill Lane, Riverside, RV3 1AB"


def test_a_baby_with_no_address_or_gp_on_the_record_has_every_recipient_not_reachable():
    routes = load_routes(MAPPINGS / "delivery.toml")
    unrouted_gp = {"generalPractitioner": [{"display": "Far Away Surgery"}]}  # named, but no ODS code routed

    entries = recipient_entries(routes, unrouted_gp, social_workers=[])

    assert {e["route"] for e in entries} == {NOT_REACHABLE}
    assert [e["name"] for e in entries] == [None, "Far Away Surgery", None, None]
    assert {e["route"] for e in recipient_entries(None, {}, social_workers=[])} == {NOT_REACHABLE}
    assert home_address({}) is None
    assert (
        home_address({"address": [{"use": "home", "postalCode": "RV3 1AB", "period": {"end": "2026-01-01"}}]}) is None
    )


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ('mailbox = "NSGP0001"', 'mailbox = "not a mailbox"'),
        ('mailbox = "NSGP0001"', 'mailbox = "NSGP0001"\nendpoint = "https://gp.example/fhir"'),
        ('kind = "health-visitor"', 'kind = "school-nurse"'),
        ('priority = "urgent"', 'priority = "whenever"'),
    ],
)
def test_a_broken_mapping_stops_the_start_naming_the_file(tmp_path, broken, named):
    copied = tmp_path / "delivery.toml"
    shutil.copy(MAPPINGS / "delivery.toml", copied)
    copied.write_text(copied.read_text().replace(broken, named, 1))

    with pytest.raises(ConfigError, match=r"delivery\.toml"):
        load_routes(copied)
