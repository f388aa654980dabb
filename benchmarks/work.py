"""Issue 13 item 6: how much work each checklist is for a nurse, per checkpoint, for two families.

    uv run --locked python -m benchmarks.work

For the Case V analogue and a family with no safeguarding history, at admission, transfer and discharge (in that
order, each saved before the next, as on a real stay), it reports:

- fields at start: the form's questions a nurse sees when the checklist opens (Chromium, 1280x800; a radio group or
  a checkbox group is one field, as is each text box, date part and list);
- pre-filled: those of them already answered when it opens;
- touches to submit: how many answers a nurse must give before the server takes the checklist. The pre-filled
  checklist is submitted through the API as it stands; each question the server names as unanswered or wrong is
  answered (the first option, or a plain value of its type, as tests/answering.py does) and it is submitted again,
  until it is stored. Questions that answering opens count when the server asks for them; the server decides, so
  the figure follows the rules the pages enforce;
- page height: the checklist page's full height in CSS pixels at 1280x800.

It starts the sandbox FHIR servers and NeoSafe on a fresh SQLite database, as the tests do, and prints one table.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from app.checkpoints import DEMO_USERS
from app.config import Settings, load_sources
from app.forms import option_codings, walk
from app.main import create_app
from app.web import issue_token
from app.web.deps import COOKIE
from sandbox import Sandbox
from tests.answering import ANSWERS_BY_TYPE
from tests.families import CASE_V_BABY, NO_CONCERNS_BABY
from tests.servers import serving

__all__ = ["Work", "main", "nurse_in_chromium", "touches_to_submit"]

CHECKPOINTS = ("admission", "transfer", "discharge")
FAMILIES = {"Case V analogue": CASE_V_BABY, "no safeguarding history": NO_CONCERNS_BABY}
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM = "/usr/bin/chromium"
MAX_ROUNDS = 40

# In the page: each distinct question of the form (by its control's name), shown, and whether it has a value.
FIELDS_JS = """() => {
  const form = document.querySelector('form#checklist') || document.querySelector('main form');
  const seen = new Map();
  for (const el of form.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || el.type === 'submit' || el.type === 'button' || !el.name) continue;
    const style = getComputedStyle(el), box = el.getBoundingClientRect();
    const shown = !el.disabled && style.visibility !== 'hidden' && (box.width > 0 || box.height > 0
      || (['radio', 'checkbox'].includes(el.type) && el.closest('label, div').getBoundingClientRect().height > 0));
    if (!shown) continue;
    const filled = ['radio', 'checkbox'].includes(el.type) ? el.checked : el.value.trim() !== '';
    seen.set(el.name, (seen.get(el.name) || false) || filled);
  }
  return {shown: seen.size, filled: [...seen.values()].filter(Boolean).length,
          height: document.documentElement.scrollHeight};
}"""


@dataclass(frozen=True)
class Work:
    family: str
    checkpoint: str
    shown: int
    prefilled: int
    touches: int | None  # None: the server never took it within MAX_ROUNDS (said in the report)
    height: int


def _answer(node_q: dict[str, Any]) -> list[dict[str, Any]]:
    if node_q["type"] in ("choice", "open-choice"):
        return [{"valueCoding": option_codings(node_q)[0]}]
    return [copy.deepcopy(ANSWERS_BY_TYPE.get(node_q["type"], {"valueString": "Recorded by the benchmark"}))]


def touches_to_submit(api: httpx.Client, nhs_number: str, checkpoint: str) -> int | None:
    """Answers added to the pre-filled checklist until the server stores it (it is then saved, as a nurse's is)."""
    questionnaire = api.get(f"/api/checklists/{checkpoint}").raise_for_status().json()
    response = api.get(f"/api/patients/{nhs_number}/checklists/{checkpoint}").raise_for_status().json()
    touched: set[str] = set()
    for _ in range(MAX_ROUNDS):
        sent = api.post(f"/api/patients/{nhs_number}/assessments", json=response)
        if sent.status_code == 201:
            return len(touched)
        if sent.status_code != 422 or "issue" not in sent.json():
            raise RuntimeError(f"{checkpoint} for the benchmark's baby: {sent.status_code} {sent.text[:300]}")
        asked = {loc for issue in sent.json()["issue"] for loc in issue.get("location") or []}
        nodes = [n for n in walk(questionnaire, response) if n.path in asked and not n.is_group]
        if not nodes or all(n.path in touched for n in nodes):
            return None  # answering what it names does not satisfy it: reported, never guessed
        for node in nodes:
            node.r["answer"] = _answer(node.q)
            touched.add(node.path)
    return None


def fields_on_page(page: Page, base: str, nhs_number: str, checkpoint: str) -> dict[str, int]:
    page.goto(f"{base}/patients/{nhs_number}/checklists/{checkpoint}")
    page.wait_for_load_state("networkidle")
    return page.evaluate(FIELDS_JS)


@contextlib.contextmanager
def nurse_in_chromium(work_dir: Path) -> Iterator[tuple[str, Page, httpx.Client]]:
    """The sandbox and NeoSafe on a fresh SQLite database, as the tests run them, with a nurse signed in twice: in
    Chromium at 1280x800 (a page) and in the API (a client). Yields NeoSafe's URL, the page and the client."""
    with Sandbox(work_dir / "sandbox") as sandbox:
        sources_file = work_dir / "sources.toml"
        sources_file.write_text(sandbox.sources_toml(), encoding="utf-8")
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{work_dir / 'neosafe.db'}",
            secret_key="benchmark-" + "x" * 40,
            demo_users=True,
            migrate_on_start=True,
        )
        app = create_app(settings, sources=load_sources(sources_file))
        with serving(app) as base, sync_playwright() as playwright:
            signed = httpx.post(f"{base}/sign-in", data={"role": "nurse"}, follow_redirects=False, timeout=30)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
            context = browser.new_context(viewport=VIEWPORT)
            context.add_cookies([{"name": COOKIE, "value": signed.cookies[COOKIE], "url": base}])
            token = issue_token(DEMO_USERS["nurse"], secret=settings.secret_key)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
                yield base, context.new_page(), api
            browser.close()


def measure(work_dir: Path) -> list[Work]:
    results = []
    with nurse_in_chromium(work_dir) as (base, page, api):
        for family, nhs_number in FAMILIES.items():
            for checkpoint in CHECKPOINTS:
                fields = fields_on_page(page, base, nhs_number, checkpoint)
                touches = touches_to_submit(api, nhs_number, checkpoint)
                results.append(Work(family, checkpoint, fields["shown"], fields["filled"], touches, fields["height"]))
    return results


def report(results: Sequence[Work]) -> str:
    lines = [
        f"{'family':<26}{'checkpoint':<11}{'fields at start':>16}{'pre-filled':>11}{'touches to submit':>18}"
        f"{'page height (px)':>17}"
    ]
    for r in results:
        touches = str(r.touches) if r.touches is not None else "not taken"
        lines.append(f"{r.family:<26}{r.checkpoint:<11}{r.shown:>16}{r.prefilled:>11}{touches:>18}{r.height:>17,}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m benchmarks.work", description=__doc__.split("\n")[0]).parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="neosafe-work-") as work:
        print(report(measure(Path(work))))


if __name__ == "__main__":
    main()
