"""fhir_mappings/delivery.toml: routes found from the baby's record, and a broken file refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import ConfigError
from app.delivery import load_routes
from app.delivery.routes import ODS_SYSTEM

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
