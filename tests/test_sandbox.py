"""The sandbox's own promises: a source restarted on the same port keeps its data."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.sandbox import Sandbox
from tests.factories import make_patient, new_nhs_number


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One unseeded neonatal server of its own, so restarting it disturbs no other test."""
    work = tmp_path_factory.mktemp("lone")
    (work / "families").mkdir()
    with Sandbox(work / "sources", families_dir=work / "families", kinds=("neonatal",)) as running:
        yield running


def test_a_restarted_source_comes_back_on_the_same_port_with_its_data(lone: Sandbox):
    before = lone.servers["neonatal"]
    url, number = lone.urls["neonatal"], new_nhs_number()
    with httpx.Client(base_url=url + "/", timeout=10) as fhir:
        fhir.put(f"Patient/nn-restart-{number}", json=make_patient(f"nn-restart-{number}", number)).raise_for_status()

        lone.restart("neonatal")

        after = lone.servers["neonatal"]
        assert before.process.poll() is not None  # the old server is gone, not left running beside the new one
        assert after.process.pid != before.process.pid
        assert lone.urls["neonatal"] == url
        assert fhir.get("metadata").status_code == 200  # answering already: restart waits for it
        kept = fhir.get("Patient", params={"identifier": f"https://fhir.nhs.uk/Id/nhs-number|{number}"}).json()
    assert [e["resource"]["id"] for e in kept["entry"]] == [f"nn-restart-{number}"]


def test_restarting_a_source_the_sandbox_does_not_run_is_an_error(lone: Sandbox):
    with pytest.raises(KeyError):
        lone.restart("police-gp")
    assert list(lone.servers) == ["neonatal"]
