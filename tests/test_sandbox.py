"""The sandbox's own promises: a source restarted on the same port keeps its data; seeded stores have statistics."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from sandbox import Sandbox
from tests.conftest import unseeded
from tests.factories import make_flag, make_patient, new_nhs_number


@pytest.fixture(scope="module")
def lone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One unseeded neonatal server of its own, so restarting it disturbs no other test."""
    with unseeded(tmp_path_factory.mktemp("lone"), ("neonatal",)) as running:
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


def test_seeding_gives_the_query_planner_statistics_in_the_store_the_server_uses(tmp_path: Path):
    family = tmp_path / "families" / "01-one"
    family.mkdir(parents=True)
    patient = make_patient("nn-stats", new_nhs_number())
    entries = [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in (patient, make_flag("nn-stats", "371772001"))
    ]
    (family / "neonatal.json").write_text(
        json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}), encoding="utf-8"
    )
    moved = {"neonatal": {"data_dir": "store"}}  # not where sekmet keeps it by default

    with Sandbox(
        tmp_path / "sources", families_dir=tmp_path / "families", kinds=("neonatal",), server_settings=moved
    ) as sandbox:
        database = sandbox.servers["neonatal"].database
        with closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as store:
            indexed = {row[0] for row in store.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'idx'")}
            plan = store.execute(  # the search a picture's _revinclude=Observation:subject makes
                "EXPLAIN QUERY PLAN SELECT DISTINCT type, id FROM idx WHERE type=? AND param=? AND rtype=? AND rid=?",
                ("Observation", "subject", "Patient", "nn-stats"),
            ).fetchall()

    assert database == tmp_path / "sources" / "neonatal" / "store" / "sekmet.db"
    assert not (tmp_path / "sources" / "neonatal" / "data").exists()
    assert "idx_refp" in indexed
    assert "USING INDEX idx_refp (type=? AND param=? AND rtype=? AND rid=?)" in plan[0][3]


def test_how_long_a_server_may_take_to_start_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("NEOSAFE_SANDBOX_START_S", "240")
    assert Sandbox(tmp_path).start_timeout_s == 240
    monkeypatch.delenv("NEOSAFE_SANDBOX_START_S")
    assert Sandbox(tmp_path).start_timeout_s >= 120  # no longer 30 s, which busy machines overran


def test_a_server_that_does_not_answer_in_time_is_named_with_the_setting_and_stopped(tmp_path: Path):
    (tmp_path / "families").mkdir()
    sandbox = Sandbox(tmp_path / "sources", families_dir=tmp_path / "families", kinds=("neonatal",), start_timeout_s=0)
    with pytest.raises(RuntimeError, match=r"neonatal did not answer within 0 s \(NEOSAFE_SANDBOX_START_S\)"), sandbox:
        pass
    assert sandbox.servers == {}  # stopped, not left running


def test_a_server_that_exits_is_reported_at_once_not_after_the_bound(tmp_path: Path):
    (tmp_path / "families").mkdir()
    broken = {"neonatal": {"port": "not a port"}}
    sandbox = Sandbox(
        tmp_path / "sources", families_dir=tmp_path / "families", kinds=("neonatal",), server_settings=broken
    )
    with pytest.raises(RuntimeError, match="sandbox source neonatal exited"), sandbox:
        pass
