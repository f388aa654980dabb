"""SECURITY.md stays true: every test a control names exists, and every control names one."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_hazard_log import missing_test

SECURITY = Path(__file__).resolve().parents[1] / "SECURITY.md"
PROOF = re.compile(r"`((?:tests|benchmarks|\.ci)/[^`]+)`")


def controls() -> list[tuple[str, str]]:
    """(control, test column) of every row of every table headed Control | Where it is decided | Test."""
    rows, header = [], None
    for line in SECURITY.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif header[0] == "Control" and not set(cells[0]) <= {"-", ":"}:
            rows.append((cells[0], cells[-1]))
    return rows


def test_every_control_names_a_test_and_every_test_named_exists():
    found = controls()
    assert len(found) > 30  # the tables were read, not skipped
    assert [c for c, proof in found if not PROOF.search(proof) and "lint-imports" not in proof] == []
    named = {ref for _, proof in found for ref in PROOF.findall(proof)}
    assert [why for ref in sorted(named) if (why := missing_test(ref))] == []
