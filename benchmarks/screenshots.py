"""The README's screenshots: the Case V analogue's baby page, admission checklist and handover, as a nurse first sees
them in Chromium at 1280x800 (the first screen, not the whole page: what is seen at 3 a.m. without scrolling).

    uv run --locked python -m benchmarks.screenshots

The handover is taken once the admission and discharge checklists are saved (answered as `benchmarks.work` answers
them), so it shows a stay's handover rather than an empty one. Writes docs/screenshots/*.png.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.work import nurse_in_chromium, touches_to_submit
from tests.families import CASE_V_BABY

__all__ = ["main"]

OUT = Path(__file__).parents[1] / "docs" / "screenshots"


def take(out: Path) -> list[Path]:
    with (
        tempfile.TemporaryDirectory(prefix="neosafe-screenshots-") as work,
        nurse_in_chromium(Path(work)) as (
            base,
            page,
            api,
        ),
    ):
        pages = {
            "baby-page": f"/patients/{CASE_V_BABY}",
            "admission-checklist": f"/patients/{CASE_V_BABY}/checklists/admission",
        }
        written = [_shot(page, base + path, out / f"{name}.png") for name, path in pages.items()]
        for checkpoint in ("admission", "discharge"):
            if touches_to_submit(api, CASE_V_BABY, checkpoint) is None:
                raise RuntimeError(f"the {checkpoint} checklist was not taken: no handover to show")
        written.append(_shot(page, f"{base}/patients/{CASE_V_BABY}/handover", out / "handover.png"))
    return written


def _shot(page, url: str, path: Path) -> Path:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), animations="disabled")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m benchmarks.screenshots", description=__doc__.split("\n")[0]).parse_args(
        argv
    )
    OUT.mkdir(parents=True, exist_ok=True)
    for path in take(OUT):
        print(path.relative_to(OUT.parents[1]))


if __name__ == "__main__":
    main()
