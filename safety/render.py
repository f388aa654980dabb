"""Draw docs/hazard-log.md from safety/hazard-log.toml: `uv run python -m safety.render` (`--check` changes nothing
and exits 1 if the page is not what the log draws). tests/test_hazard_log.py holds the two together."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["LOG", "PAGE", "load", "rating", "render"]

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "safety" / "hazard-log.toml"
PAGE = ROOT / "docs" / "hazard-log.md"


def load(path: Path = LOG) -> dict[str, Any]:
    """The hazard log as the TOML file holds it."""
    with path.open("rb") as file:
        return tomllib.load(file)


def rating(matrix: dict[str, Any], *, severity: str, likelihood: str) -> int:
    """The risk rating (1 to 5) the matrix gives a severity and a likelihood: KeyError or ValueError if unknown."""
    return matrix["rating"][likelihood][matrix["severity"].index(severity)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(items: list[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def _risk(risk: dict[str, Any]) -> str:
    return f"{risk['severity']} × {risk['likelihood']}: **{risk['rating']}**"


def _intro(log: dict[str, Any]) -> list[str]:
    meta = log["log"]
    return [
        "# NeoSafe clinical hazard log (DCB0129)",
        "",
        "<!-- Drawn from safety/hazard-log.toml by `uv run python -m safety.render`: edit that, not this page. -->",
        "",
        f"The manufacturer's hazard log for {meta['system']}, under {meta['standard']}. The log itself is data, "
        "[`safety/hazard-log.toml`](../safety/hazard-log.toml), kept with the code so that it changes with it; this "
        "page is drawn from it. Each hazard names its causes and effect, each control where it lives in NeoSafe and "
        "the tests that prove it, and the risk before and after the controls. `tests/test_hazard_log.py` fails if a "
        "test named here does not exist, a control names no test, a rating is not the matrix's, a residual risk is "
        "higher than the initial one, or this page is not what the log draws; CI runs it with every other test.",
        "",
        f"**Signed off:** {meta['sign_off']} The Clinical Safety Officer who signs off this log under DCB0129 is "
        f"NeoSafe's ({meta['clinical_safety_officer']}); a trust deploying NeoSafe reviews it again, with its own "
        "Clinical Safety Officer, under DCB0160. The safety case is "
        "[`clinical-safety-case.md`](clinical-safety-case.md); security threats and their controls are in "
        "[`SECURITY.md`](../SECURITY.md).",
        "",
        f"**On severity.** {meta['scoring_note']}",
        "",
    ]


def _matrix(matrix: dict[str, Any]) -> list[str]:
    severities = matrix["severity"]
    lines = [
        "## Risk matrix",
        "",
        "The rating is read from the matrix of the DCB0129 and DCB0160 implementation guidance, not multiplied.",
        "",
        "| Likelihood \\ Severity | " + " | ".join(severities) + " |",
        "|---|" + "---|" * len(severities),
    ]
    for likelihood in reversed(matrix["likelihood"]):
        lines.append(f"| **{likelihood}** | " + " | ".join(str(r) for r in matrix["rating"][likelihood]) + " |")
    lines += ["", "| Rating | What it asks |", "|---|---|"]
    lines += [f"| {level} | {_cell(meaning)} |" for level, meaning in sorted(matrix["acceptability"].items())]
    lines += ["", "| Severity | Meaning |", "|---|---|"]
    lines += [f"| {s} | {_cell(matrix['severity_meaning'][s])} |" for s in severities]
    lines += ["", "| Likelihood | Meaning |", "|---|---|"]
    lines += [f"| {ll} | {_cell(matrix['likelihood_meaning'][ll])} |" for ll in matrix["likelihood"]]
    return [*lines, ""]


def _summary(hazards: list[dict[str, Any]]) -> list[str]:
    lines = ["## Summary", "", "| ID | Hazard | Initial | Residual | Status |", "|---|---|---|---|---|"]
    for h in hazards:
        row = [h["id"], h["title"], _risk(h["initial"]), _risk(h["residual"]), h["status"]]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return [*lines, ""]


def _hazard(h: dict[str, Any]) -> list[str]:
    lines = [f"### {h['id']}: {h['title']}", ""]
    if h.get("issue_12"):
        lines += ["Covers, of the hazards issue 12 lists: " + "; ".join(h["issue_12"]) + ".", ""]
    lines += ["**Causes**", ""] + [f"- {cause}" for cause in h["causes"]]
    lines += ["", f"**Effect.** {h['effect']}", "", f"**Initial risk:** {_risk(h['initial'])}", ""]
    if h["controls"]:
        lines += ["**Controls**", ""]
        for c in h["controls"]:
            lines += [
                f"- **{c['id']}.** {c['control']}",
                f"  - Where: {_code(c['where'])}",
                "  - Tested by:",
                *(f"    - `{test}`" for test in c["tests"]),
            ]
        lines.append("")
    else:
        lines += ["**Controls:** none yet.", ""]
    if h.get("uncontrolled"):
        lines += ["**Not yet controlled**", ""] + [f"- {cause}" for cause in h["uncontrolled"]] + [""]
    lines += [f"**Residual risk:** {_risk(h['residual'])}", "", f"**Status:** {h['status']}", ""]
    if h.get("notes"):
        lines += [f"**Notes.** {h['notes']}", ""]
    return lines


def render(log: dict[str, Any]) -> str:
    """The page: the introduction, the risk matrix, a summary table, then each hazard in full."""
    lines = _intro(log) + _matrix(log["matrix"]) + _summary(log["hazards"]) + ["## Hazards", ""]
    for hazard in log["hazards"]:
        lines += _hazard(hazard)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m safety.render", description=__doc__)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    page = render(load())
    if args.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != page:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run `uv run python -m safety.render`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)} from {LOG.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
