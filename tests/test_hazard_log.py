"""The clinical hazard log (safety/hazard-log.toml) holds together: every test it names exists, every control names
one, every rating is the matrix's, docs/hazard-log.md is what the log draws, and the safety case's summary agrees.

Read without collecting anything: a test id is checked against the file's own definitions (its AST), so this runs
in well under a second.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from safety.render import LOG, PAGE, load, rating, render

ROOT = LOG.parent.parent
SEVERITY = ["Minor", "Significant", "Considerable", "Major", "Catastrophic"]
LIKELIHOOD = ["Very low", "Low", "Medium", "High", "Very high"]
REVIEW = "open: awaiting clinical review"
PARTLY = "open: partly controlled (issue 12); awaiting clinical review"
NOT_YET = "open: not yet controlled (issue 12)"
# The hazards issue 12 lists: each is in the log once, in its own entry or merged into an earlier one.
ISSUE_12 = {
    "missed historic domestic abuse",
    "unsafe domestic-abuse enquiry counted as done",
    "wrong baby",
    "wrong person's records (identity mismatch)",
    "unknown shown as none",
    "stale data",
    "own answers re-read as records",
    "sensitive detail shown to the wrong audience or via proxy access",
    "checklist skipped at a checkpoint",
    "discharge findings not acted on",
    "override abused",
    "task never closed",
    "lost or duplicated submission",
    "gestation unknown",
}
DEFINITION = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

LOGGED = load()
HAZARDS = LOGGED["hazards"]
CONTROLS = [(h, c) for h in HAZARDS for c in h["controls"]]


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _names(reference: str, root: Path) -> tuple[Path, list[str]]:
    path, *names = reference.split("::")
    return root / path, [re.sub(r"\[.*\]$", "", name) for name in names]  # test_x[param] is test_x


def missing_test(node_id: str, *, root: Path = ROOT) -> str | None:
    """Why `node_id` (a file, or file::test, file::Class::test, with or without [params]) names no test, else None."""
    path, names = _names(node_id, root)
    if not path.is_file():
        return f"{node_id}: there is no such file"
    if not names:
        return None
    if path.suffix != ".py":
        return f"{node_id}: only a Python file has tests to name"
    scope: list[ast.stmt] = _tree(path).body
    for depth, name in enumerate(names):
        found = next((n for n in scope if isinstance(n, DEFINITION) and n.name == name), None)
        if found is None:
            return f"{node_id}: {path.relative_to(root)} defines no {'::'.join(names[: depth + 1])}"
        scope = found.body if isinstance(found, ast.ClassDef) else []
    if path.is_relative_to(root / "tests") and not names[-1].startswith("test"):
        return f"{node_id}: pytest does not collect {names[-1]}"
    return None


def missing_place(reference: str) -> str | None:
    """Why `reference` (a path, or path::name of a function or class anywhere in a Python file) is not there."""
    path, names = _names(reference, ROOT)
    if not path.exists():
        return f"{reference}: there is no such file"
    if names and path.suffix != ".py":
        return f"{reference}: only a Python file has functions to name"
    defined = {n.name for n in ast.walk(_tree(path)) if isinstance(n, DEFINITION)} if names else set()
    return None if set(names) <= defined else f"{reference}: {path.relative_to(ROOT)} defines no {names[-1]}"


def test_the_matrix_is_five_by_five_and_worsens_with_severity_and_likelihood():
    matrix = LOGGED["matrix"]
    assert (matrix["severity"], matrix["likelihood"]) == (SEVERITY, LIKELIHOOD)
    grid = [matrix["rating"][likelihood] for likelihood in LIKELIHOOD]
    assert all(len(row) == 5 and all(r in range(1, 6) for r in row) for row in grid)
    assert all(row == sorted(row) for row in grid)  # worse with severity
    assert all(list(column) == sorted(column) for column in zip(*grid, strict=True))  # worse with likelihood
    assert (grid[0][0], grid[-1][-1]) == (1, 5)
    assert set(matrix["severity_meaning"]) == set(SEVERITY) and set(matrix["likelihood_meaning"]) == set(LIKELIHOOD)
    assert set(matrix["acceptability"]) == {"1", "2", "3", "4", "5"}


def test_every_hazard_says_what_it_is_its_causes_effect_and_both_ratings():
    problems = []
    for h in HAZARDS:
        where = h.get("id", "a hazard without an id")
        for field in ("id", "title", "effect", "status"):
            if not isinstance(h.get(field), str) or not h[field].strip():
                problems.append(f"{where}: no {field}")
        causes = h.get("causes")
        if not causes or not all(isinstance(c, str) and c.strip() for c in causes):
            problems.append(f"{where}: no causes")
        for stage in ("initial", "residual"):
            risk = h.get(stage) or {}
            if set(risk) != {"severity", "likelihood", "rating"}:
                problems.append(f"{where}: {stage} needs severity, likelihood and rating, not {sorted(risk)}")
            elif risk["severity"] not in SEVERITY or risk["likelihood"] not in LIKELIHOOD:
                problems.append(f"{where}: {stage} {risk['severity']!r} × {risk['likelihood']!r} is not on the matrix")
        if not isinstance(h.get("controls"), list):
            problems.append(f"{where}: no controls list (write controls = [] where there is none yet)")
    assert not problems, "\n".join(problems)


def test_every_rating_is_the_one_the_matrix_gives():
    matrix = LOGGED["matrix"]
    wrong = [
        f"{h['id']} {stage}: {h[stage]['severity']} × {h[stage]['likelihood']} is {expected}, not {h[stage]['rating']}"
        for h in HAZARDS
        for stage in ("initial", "residual")
        if (expected := rating(matrix, severity=h[stage]["severity"], likelihood=h[stage]["likelihood"]))
        != h[stage]["rating"]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_residual_risk_is_higher_than_the_initial_one_and_without_controls_nothing_is_reduced():
    higher = [h["id"] for h in HAZARDS if h["residual"]["rating"] > h["initial"]["rating"]]
    worse = [
        h["id"]
        for h in HAZARDS
        if SEVERITY.index(h["residual"]["severity"]) > SEVERITY.index(h["initial"]["severity"])
        or LIKELIHOOD.index(h["residual"]["likelihood"]) > LIKELIHOOD.index(h["initial"]["likelihood"])
    ]
    reduced_by_nothing = [h["id"] for h in HAZARDS if not h["controls"] and h["residual"] != h["initial"]]
    assert (higher, worse, reduced_by_nothing) == ([], [], [])


def test_ids_are_unique_and_each_control_is_numbered_under_its_hazard():
    ids = [h["id"] for h in HAZARDS] + [c["id"] for _, c in CONTROLS]
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
    assert [h["id"] for h in HAZARDS] == [f"H{n}" for n in range(1, len(HAZARDS) + 1)]
    assert [c["id"] for h, c in CONTROLS if not re.fullmatch(rf"{h['id']}-C\d+", c["id"])] == []


def test_every_control_says_what_it_does_where_it_lives_and_names_its_tests():
    incomplete = [
        f"{c.get('id')}: no {field}"
        for _, c in CONTROLS
        for field in ("control", "where", "tests")
        if not c.get(field) or (field != "control" and not all(isinstance(x, str) and x for x in c[field]))
    ]
    assert not incomplete, "\n".join(incomplete)


def test_every_test_named_exists():
    missing = [why for _, c in CONTROLS for node_id in c["tests"] if (why := missing_test(node_id))]
    assert not missing, "\n".join(missing)


def test_every_place_a_control_lives_exists():
    missing = [why for _, c in CONTROLS for place in c["where"] if (why := missing_place(place))]
    assert not missing, "\n".join(missing)


def test_nothing_is_signed_off_and_each_status_says_how_far_the_hazard_is_controlled():
    wrong = []
    for h in HAZARDS:
        expected = NOT_YET if not h["controls"] else PARTLY if h.get("uncontrolled") else REVIEW
        if h["status"] != expected:
            wrong.append(f"{h['id']}: {h['status']!r}, expected {expected!r}")
    assert not wrong, "\n".join(wrong)
    assert LOGGED["log"]["sign_off"].startswith("none yet")


def test_each_hazard_issue_12_lists_is_in_the_log_once():
    named = [name for h in HAZARDS for name in h.get("issue_12", [])]
    assert sorted(named) == sorted(ISSUE_12)


def test_the_hazard_log_page_is_what_the_log_draws():
    assert PAGE.read_text(encoding="utf-8") == render(LOGGED), "run `uv run python -m safety.render`"


def test_the_safety_case_says_what_the_log_says_of_residual_risk_and_what_is_not_yet_controlled():
    case = (ROOT / "docs" / "clinical-safety-case.md").read_text(encoding="utf-8")
    stated = {int(r): ids.strip() for r, ids in re.findall(r"^\| ([1-5]) \([^)]*\) \| ([^|]+) \|$", case, re.M)}
    logged = {r: ", ".join(h["id"] for h in HAZARDS if h["residual"]["rating"] == r) for r in range(1, 6)}
    assert stated == {r: ids for r, ids in logged.items() if ids}
    gaps = case[case.index("Not yet controlled at all:") :].split("\n\n")[0]  # that paragraph: none, then partly
    named = set(re.findall(r"\bH\d+\b", gaps))
    assert named == {h["id"] for h in HAZARDS if not h["controls"] or h.get("uncontrolled")}


def test_a_test_id_or_a_place_that_names_nothing_is_caught(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_example.py").write_text(
        "class TestGroup:\n    def test_in_a_class(self): ...\n\nasync def test_async(): ...\n\ndef helper(): ...\n"
    )
    here = "tests/test_example.py"
    for node_id in (here, f"{here}::TestGroup::test_in_a_class", f"{here}::test_async", f"{here}::test_async[a-1]"):
        assert missing_test(node_id, root=tmp_path) is None, node_id
    assert "defines no test_in_a_class" in missing_test(f"{here}::test_in_a_class", root=tmp_path)
    assert "defines no TestGroup::test_gone" in missing_test(f"{here}::TestGroup::test_gone", root=tmp_path)
    assert "no such file" in missing_test("tests/test_nothing_here.py::test_x", root=tmp_path)
    assert "does not collect helper" in missing_test(f"{here}::helper", root=tmp_path)
    assert missing_place("app/checkpoints/policy.py::may") is None
    assert missing_place("app/sources/client.py::_on_source") is None  # a method
    assert "defines no allow_everyone" in missing_place("app/checkpoints/policy.py::allow_everyone")
    assert "only a Python file" in missing_place("checklists/admission.json::A1")
