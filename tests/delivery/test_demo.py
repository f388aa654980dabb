"""`neosafe demo` as composed (sandbox/demo.py): the CP-IS sandbox as its cpis source, asked with the demo
sign-in's token in CP-IS's shape, the PDS and Patient Flags sandboxes as its pds and patient-flags sources, asked
with the same token (and left out, said, when one cannot start), and a discharge delivered over the MESH sandbox to
the demo GP practice, health visiting team and community neonatal team; without MESH, the demo still starts and
says why.

The demo's own sekmet servers and MESH sandbox are the session's (already running), so only CP-IS, PDS and the
Patient Flags sandbox start here.
"""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markupsafe import escape

from app.checkpoints import Checkpoints
from app.cli import main
from app.config import load_sources
from app.delivery import Deliveries, deliveries_of
from app.main import create_app
from sandbox.demo import DEMO_DELIVERY_INTERVAL_S, running_demo
from sandbox.mesh import UNIT_MAILBOX, MeshSandbox
from sandbox.pds import PdsSandbox
from tests.answering import completed, submitted
from tests.conftest import DATABASES, SECRET, LiveServer, signed_in_browser
from tests.delivery.conftest import Delivering
from tests.delivery.test_mesh_delivery import CN, GP, HV, a_baby, received
from tests.families import ACTIVE_CP_BABY, ACTIVE_CP_MOTHER
from tests.servers import serving
from tests.web.test_cpis_access import CONTACTS


def _demo(tmp_path: Path, sandbox, mesh, lines: list[str], **national):
    return running_demo(tmp_path, fhir=lambda _: nullcontext(sandbox), mesh=mesh, say=lines.append, **national)


class CannotStart(PdsSandbox):
    def __enter__(self):
        raise RuntimeError("the PDS sandbox did not start")


async def test_the_demo_asks_cp_is_in_its_shape_and_delivers_a_discharge_to_each_mailbox(
    sandbox, mesh, fhir, tmp_path, monkeypatch, capsys
):
    said: list[str] = []
    with _demo(tmp_path, sandbox, lambda _: nullcontext(mesh), said) as demo:
        settings = demo.settings(secret_key=SECRET, database_url=DATABASES.new(tmp_path))
        sources = {s.name: s for s in load_sources(demo.sources_file)}
        assert {n: (s.profile, s.write_back) for n, s in sources.items()} == {
            "neonatal": ("fhir", True),
            "maternity": ("fhir", False),
            "social-care": ("fhir", False),
            "police-gp": ("fhir", False),
            "cpis": ("cpis", False),  # the CP-IS sandbox, not the sekmet server of the generic cpis source
            "pds": ("pds", False),
            "patient-flags": ("patient-flags", False),
        }
        assert sources["cpis"].url == demo.cpis.url and sources["cpis"].unscheduled("discharge") is False
        assert (sources["pds"].url, sources["patient-flags"].url) == (demo.pds.url, demo.flags.url)
        assert f"{demo.pds.url} (PDS FHIR API)" in "\n".join(said) and demo.national_off == ()
        assert (settings.mesh_url, settings.mesh_mailbox, settings.mesh_shared_key) == (
            mesh.url,
            UNIT_MAILBOX,
            mesh.shared_key,
        )
        assert (
            settings.demo_users
            and settings.delivery_worker
            and settings.delivery_interval_s == DEMO_DELIVERY_INTERVAL_S
        )
        shown = "\n".join(demo.mesh_lines())
        for mailbox, name in (
            (GP, "Millbrook Medical Practice"),
            (HV, "Riverside Health"),
            (CN, "Riverside Community"),
        ):
            assert name in shown and f"neosafe mesh inbox {mailbox}" in shown
        assert "MESH delivery is off" not in shown

        # Served as the demo serves it, but with the workers' passes run here (delivery) or not at all.
        served = settings.model_copy(update={"delivery_worker": False, "watch": False})
        app = create_app(served, demo_cis2_token=demo.cpis_token)
        with serving(app) as url:
            before, pds_before, flags_before = len(demo.cpis.seen), len(demo.pds.seen), len(demo.flags.seen)
            with signed_in_browser(url, "nurse") as nurse:  # a demo sign-in: it has the sandboxes' token
                admission = nurse.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")
                page = nurse.get(f"/patients/{ACTIVE_CP_BABY}")
            assert admission.status_code == 200 and str(escape(CONTACTS)) in admission.text  # CP-IS checked
            verified = {s["nhs_number"] for s in demo.pds.seen[pds_before:] if s["asked"] == "Patient"}
            assert {ACTIVE_CP_BABY, ACTIVE_CP_MOTHER} <= verified  # NHS numbers verified on PDS
            assert "NHS number verified on PDS" in page.text
            assert ACTIVE_CP_BABY in {s["nhs_number"] for s in demo.flags.seen[flags_before:]}  # flags asked
            asked = {(s["nhs_number"], s["unscheduled"]) for s in demo.cpis.seen[before:]}
            assert asked == {(ACTIVE_CP_BABY, "true"), (ACTIVE_CP_MOTHER, "true")}  # admission: unscheduled care

            baby = a_baby(fhir["neonatal"])  # registered at the demo practice, going home to Riverside
            live = LiveServer(url)
            with live.client("nurse") as api:
                record = submitted(api, baby, completed(api, baby, "discharge"))  # D10 as NeoSafe pre-filled it
            async with Checkpoints.wire(served, sources=list(sources.values())).running() as checkpoints:
                await Deliveries(checkpoints).run_once(datetime.now(UTC))
                rows = await deliveries_of(checkpoints.sessions, [record])
        assert sorted((r.kind, r.address, r.state) for r in rows) == [
            ("community-midwife", None, "not-reachable"),
            ("community-neonatal-team", CN, "sent"),
            ("gp", GP, "sent"),
            ("health-visitor", HV, "sent"),
        ]

        # `neosafe mesh inbox`, as the demo says to run it: its exports, then each mailbox's password.
        export = next(line for line in demo.mesh_lines() if "export " in line).split("export ", 1)[1]
        for name, value in (pair.split("=", 1) for pair in export.split()):
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("NEOSAFE_SECRET_KEY", raising=False)
        monkeypatch.setenv("NEOSAFE_MESH_INBOX_PASSWORD", mesh.password(HV))
        capsys.readouterr()
        await asyncio.to_thread(main, ["mesh", "inbox", HV])
        assert f"NHS number {baby}" in capsys.readouterr().out

        recipient = Delivering(live, served, list(sources.values()), mesh)
        for mailbox in (GP, HV, CN):
            assert len(received(recipient, mailbox, baby)) == 1  # readable by each recipient, once


@pytest.mark.parametrize(
    ("environment", "why"),
    [
        ({"PATH": "/nonexistent", "NEOSAFE_MESH_SANDBOX_PYTHON": ""}, "the MESH sandbox needs uv"),
        ({"NEOSAFE_MESH_SANDBOX_PYTHON": "/bin/false"}, "the MESH sandbox exited"),  # e.g. uv offline, no cache
    ],
)
def test_without_the_mesh_sandbox_the_demo_still_starts_says_why_and_delivers_nothing(
    sandbox, tmp_path, monkeypatch, environment, why
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    said: list[str] = []
    with _demo(tmp_path, sandbox, MeshSandbox, said) as demo:
        settings = demo.settings(secret_key=SECRET)
        lines = demo.mesh_lines()
        assert demo.cpis.url in "\n".join(said)  # CP-IS still runs

    assert demo.mesh is None and settings.mesh_url is None  # delivery off, as without NEOSAFE_MESH_URL
    assert lines[0].startswith(f"MESH delivery is off: the MESH sandbox could not start ({why}")
    assert "nothing is sent to the GP practice" in " ".join(lines)
    assert settings.sources_file == demo.sources_file and settings.demo_users


def test_a_national_sandbox_that_cannot_start_is_left_out_and_said(sandbox, mesh, tmp_path):
    said: list[str] = []
    with _demo(tmp_path, sandbox, lambda _: nullcontext(mesh), said, pds=CannotStart) as demo:
        sources = {s.name: s.profile for s in load_sources(demo.sources_file)}
        settings = demo.settings(secret_key=SECRET)

    assert demo.pds is None and "pds" not in sources  # never asked, so never "not connected" either
    assert sources["patient-flags"] == "patient-flags" and demo.flags is not None  # the other still runs
    (off,) = demo.national_off
    assert off.startswith("The PDS sandbox could not start (the PDS sandbox did not start)") and off in said
    assert settings.demo_users and settings.sources_file == demo.sources_file


def test_neosafe_demo_help_names_what_it_starts(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--help"])

    assert exited.value.code == 0
    assert "CP-IS, PDS, the Patient Flags API and MESH" in " ".join(capsys.readouterr().out.split())
