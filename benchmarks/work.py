"""Issue 13 item 6: how much work each checklist is for a nurse, per checkpoint, for two families.

    uv run --locked python -m benchmarks.work

For the Case V analogue and a family with no safeguarding history, at admission, transfer and discharge (in that
order, each saved before the next, as on a real stay), it reports:

- fields at start: the form's questions a nurse sees when the checklist opens (Chromium, 1280x800; a radio group or
  a checkbox group is one field, as is each text box, date part and list);
- pre-filled: those of them already answered when it opens;
- touches to submit: how many answers a nurse must give before the server takes the checklist. The pre-filled
  checklist is submitted through the API as it stands; each question the server names as unanswered or wrong is
  answered and it is submitted again, until it is stored. Questions that answering opens count when the server asks
  for them; the server decides, so the figure follows the rules the pages enforce. Two ways of answering, each on
  a fresh copy of the sandbox, so neither sees the other's checklists:
  - *nothing to report*: what a nurse answers for a family with nothing to report (NOTHING_TO_REPORT: the source
    reviewed, no social care known, no risk factor, no interpreter needed, asked about domestic abuse alone with no
    disclosure, advice given, no concern now), the first option where it names none;
  - *first option*: the first option of every choice and "no" to every yes/no question, as tests/answering.py
    does: the most questions each checklist can open, e.g. current social care, so the "details" questions too;
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
    touches: dict[str, int | None]  # by way of answering (WAYS); None: not taken within MAX_ROUNDS (said so)
    height: int


# The answer a nurse gives, for a family with nothing to report, to each question that has one (by linkId): a code
# of its options, or a yes/no. A question not listed gets its first option (a yes/no question, "no").
NOTHING_TO_REPORT: dict[str, str | bool] = {
    # admission
    "A1-flags-reviewed.source.review": "source-reviewed",
    "A2-social-care-involvement.status": "social-care-none-known",
    "A4-household.person.lives-with-baby": "yes",
    "A4-household.person.parental-responsibility": "yes",
    "A4-household.father-recorded": "yes",
    "A5-father-seen.man.seen": "yes",
    "A6-parental-risk-factors.parent.factors": "no-risk-factors-identified",
    "A7-language-interpreter.parent.interpreter-need": "interpreter-not-needed",
    "A8-da-enquiry-private.asked-alone": "da-asked-alone",
    "A8-da-enquiry-private.interpreter": "interpreter-not-needed",
    "A8-da-enquiry-private.outcome": "da-enquiry-no-disclosure",
    "A10-concern-now.concern": False,
    # transfer
    "T1-safeguarding-summary.source.review": "source-reviewed",
    "T1-safeguarding-summary.attest": True,
    "T2-social-worker-told.told": True,
    "T3-orders-and-responsibility.orders": "no",
    "T4-outstanding-actions.any": False,
    "T5-interpreter-and-carers.person.interpreter-need": "interpreter-not-needed",
    "T5-interpreter-and-carers.person.seen": "yes",
    "T5-interpreter-and-carers.confirm": True,
    "T6-receiving-unit.summary-read": True,
    "T6-receiving-unit.safeguarding-team-told": True,
    # discharge
    "D1-sources-refreshed.source.review": "source-reviewed",
    "D1-sources-refreshed.changes-reviewed": True,
    "D3-discharge-planning-meeting.meeting-held": True,
    "D4-da-indicated.identified": "no",
    "D4-da-enquiry-private.asked-alone": "da-asked-alone",
    "D4-da-enquiry-private.interpreter": "interpreter-not-needed",
    "D4-da-enquiry-private.outcome": "da-enquiry-no-disclosure",
    "D5-carers.person.will-care": "yes",
    "D5-carers.person.seen": "yes",
    "D5-carers.person.alone": "no",
    "D5-carers.anyone-not-seen": False,
    "D6-icon.carer.status": "icon-given",
    "D6-icon.carer.interpreter": "interpreter-not-needed",
    "D7-preterm-or-low-birthweight.answer": "no",
    "D7-safer-sleep.parent.status": "safer-sleep-given",
    "D7-safer-sleep.sleep-space-confirmed": True,
    "D8-parental-risk-indicated.identified": "no",
    "D8-parental-risk-recheck.concerns": "no-current-concern",
    "D9-injuries-explained.any": "no",
    "D10-handover.gp-registered": True,
    "D10-handover.recipient.received": True,
    "D12-concern-at-discharge.concern": False,
}
WAYS = ("nothing to report", "first option")


def _answer(node_q: dict[str, Any], way: str) -> list[dict[str, Any]]:
    wanted = NOTHING_TO_REPORT.get(node_q["linkId"]) if way == "nothing to report" else None
    if node_q["type"] in ("choice", "open-choice"):
        codings = option_codings(node_q)
        return [{"valueCoding": next((c for c in codings if c.get("code") == wanted), codings[0])}]
    if node_q["type"] == "boolean" and isinstance(wanted, bool):
        return [{"valueBoolean": wanted}]
    return [copy.deepcopy(ANSWERS_BY_TYPE.get(node_q["type"], {"valueString": "Recorded by the benchmark"}))]


def touches_to_submit(api: httpx.Client, nhs_number: str, checkpoint: str, way: str = WAYS[0]) -> int | None:
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
            node.r["answer"] = _answer(node.q, way)
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
    """Each way of answering on a sandbox and database of its own (a stay's checklists build on each other); the
    page figures from the first."""
    touches: dict[tuple[str, str], dict[str, int | None]] = {}
    pages: dict[tuple[str, str], dict[str, int]] = {}
    for way in WAYS:
        (directory := work_dir / way.replace(" ", "-")).mkdir()
        with nurse_in_chromium(directory) as (base, page, api):
            for family, nhs_number in FAMILIES.items():
                for checkpoint in CHECKPOINTS:
                    if not pages.get((family, checkpoint)):
                        pages[family, checkpoint] = fields_on_page(page, base, nhs_number, checkpoint)
                    touches.setdefault((family, checkpoint), {})[way] = touches_to_submit(
                        api, nhs_number, checkpoint, way
                    )
    return [
        Work(family, checkpoint, f["shown"], f["filled"], touches[family, checkpoint], f["height"])
        for (family, checkpoint), f in pages.items()
    ]


def report(results: Sequence[Work]) -> str:
    ways = "".join(f"{'touches: ' + way:>28}" for way in WAYS)
    lines = [f"{'family':<26}{'checkpoint':<11}{'fields at start':>16}{'pre-filled':>11}{ways}{'page height (px)':>17}"]
    for r in results:
        touches = "".join(f"{str(r.touches[way]) if r.touches[way] is not None else 'not taken':>28}" for way in WAYS)
        lines.append(f"{r.family:<26}{r.checkpoint:<11}{r.shown:>16}{r.prefilled:>11}{touches}{r.height:>17,}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(prog="python -m benchmarks.work", description=__doc__.split("\n")[0]).parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="neosafe-work-") as work:
        print(report(measure(Path(work))))


if __name__ == "__main__":
    main()
