"""Run `neosafe checklists lint` as a deployer would and read what it refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main


def lint_refusals(capsys: pytest.CaptureFixture[str], checklists: Path, mappings: Path) -> list[str]:
    """The lines the lint printed; it must have exited 1."""
    with pytest.raises(SystemExit) as exited:
        main(["checklists", "lint", "--checklists", str(checklists), "--mappings", str(mappings)])
    assert exited.value.code == 1
    return capsys.readouterr().err.splitlines()
