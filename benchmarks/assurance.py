"""Wall time of the assurance page's figures for 12 months of a 60-cot unit (issue 19 item 3).

    uv run --locked python -m benchmarks.assurance [--babies 2000] [--database-url URL]

Seeds a new database (SQLite in a temporary folder by default) with `--babies` admissions over 12 months, each with
an admission, 72-hour review, father check and discharge checklist, and one weekly check in three stays (about five
checklists a baby: ~10,000 for 2,000), real-sized answers (the seeded history's), an audit record of each baby's
first sight, an override in one discharge in twenty and a co-signature in one in ten; with each checklist, the rows
save_assessment keeps of it (app.assessments.facts: its answers, four sources' status, one source unavailable in one
picture in ten, and a Task from one admission in five, two in three of them seen completed by the watch job
(app.assessments.task_states), the rest seen open). Then times what
GET /unit/assurance does, without HTTP: read the history (SQL), compute every figure, draw every chart; the best of
three runs and each part's time; then, once, the Board's PDF of those figures (GET /unit/assurance.pdf's layout);
and the query plans of the reads that scan most.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from app.assessments import (
    Assessment,
    AuditEvent,
    HoldOverride,
    TaskState,
    answer_rows,
    make_engine,
    session_factory,
    source_rows,
    task_rows,
    upgrade,
)
from app.assurance import Period, chart_uri
from app.assurance.document import board_html
from app.assurance.figures import compute
from app.assurance.history import read_history
from app.checkpoints import ROLES, User
from app.forms import load_checklists, load_measures
from app.handover import PdfUnavailable, document_environment, pdf_of
from tests.assurance.seeded import enquiry, father, household, icon, interpreter, response

ROOT = Path(__file__).parents[1]
PERIOD = Period(datetime(2025, 12, 1).date(), datetime(2026, 11, 1).date())
LEAD = User("benchmark", "Benchmark", ROLES["safeguarding-lead"])
BODIES = {
    "admission": response(
        "admission",
        household("yes", father_checked=True),
        father("yes"),
        interpreter(needed=True, used=True, family=False),
        enquiry("da-asked-alone", "professional-interpreter-used", "da-enquiry-no-disclosure"),
    ),
    "review-72h": response("review-72h"),
    "father-day7": response("father-day7"),
    "weekly": response("weekly"),
    "discharge": response(
        "discharge", icon(("person-role-father", "icon-given"), ("person-role-mother", "icon-given"))
    ),
}
SOURCES = ("maternity", "social-care", "police-gp", "child-protection")
OFFSETS = {"admission": 20, "review-72h": 70, "father-day7": 160, "weekly": 165, "discharge": 400}  # hours


def _sources(n: int) -> list[dict[str, str]]:
    return [{"name": s, "status": "unavailable" if n % 10 == 0 and s == "police-gp" else "found"} for s in SOURCES]


def _kept(id_: str, checkpoint: str, n: int) -> list:
    """What save_assessment keeps of a version in rows besides the version (app.assessments.facts)."""
    tasks = [] if checkpoint != "admission" or n % 5 else [{"resource": {
        "resourceType": "Task", "identifier": [{"value": f"{id_}/t"}], "status": "requested",
        "owner": {"display": "Safeguarding team"}}}]  # fmt: skip
    return [
        *answer_rows(id_, PARSED[checkpoint]),
        *task_rows(id_, {"entry": tasks}),
        *source_rows(id_, _sources(n)),
    ]


def _seen(id_: str, at: datetime, n: int) -> TaskState:
    """What the watch job last saw of the admission's Task: completed a day on (two in three), else still open."""
    done = n % 3 != 0
    closed = at + timedelta(hours=30) if done else None
    return TaskState(
        key=f"{id_}/t",
        status="completed" if done else "requested",
        closed_seen_at=closed,
        closed_at=closed,
        closed_from="lastModified" if done else None,
        checked_at=at + timedelta(days=3),
    )


PARSED = {checkpoint: json.loads(body) for checkpoint, body in BODIES.items()}


def _rows(babies: int) -> tuple[list, list, list, list]:
    start, span = PERIOD.start, (PERIOD.end - PERIOD.start) - timedelta(days=20)
    assessments, audit, overrides, kept = [], [], [], []
    for i in range(babies):
        number, seen = f"99{i:08d}", start + span * i / babies
        audit.append(AuditEvent(at=seen, user_id="n", role="nurse", action="view-picture", nhs_number=number))
        for checkpoint, hours in OFFSETS.items():
            if checkpoint == "weekly" and i % 3:
                continue
            id_ = f"{number}-{checkpoint}"
            at = seen + timedelta(hours=hours + (i % 7) * 3)
            assessments.append(
                Assessment(
                    id=id_,
                    nhs_number=number,
                    checkpoint=checkpoint,
                    questionnaire=checkpoint,
                    response_json=BODIES[checkpoint],
                    sources_json=json.dumps(_sources(len(assessments))),
                    author_id="n",
                    author_role="nurse",
                    created_at=at,
                )
            )
            kept += _kept(id_, checkpoint, len(assessments))
            if checkpoint == "admission" and not len(assessments) % 5:
                kept.append(_seen(id_, at, i))
            audit.append(AuditEvent(at=at, user_id="n", role="nurse", action="submit", nhs_number=number))
        if i % 20 == 0:
            overrides.append(
                HoldOverride(
                    id=f"o-{i}",
                    record_id=f"{number}-discharge",
                    assessment_id=f"{number}-discharge",
                    version=1,
                    finding="concern-at-discharge",
                    answers_digest="x",
                    reason="Reviewed with the consultant",
                    user_id="l",
                    user_name="Lead",
                    role="safeguarding-lead",
                    at=seen + timedelta(hours=401),
                )
            )
        if i % 10 == 0:
            audit.append(
                AuditEvent(
                    at=seen + timedelta(hours=402),
                    user_id="l",
                    role="safeguarding-lead",
                    action="cosign",
                    nhs_number=number,
                )
            )
    return assessments, audit, overrides, kept


async def main(babies: int, url: str | None) -> None:
    folder = tempfile.mkdtemp(prefix="neosafe-assurance-")
    engine = make_engine(url or f"sqlite+aiosqlite:///{folder}/bench.db")
    await upgrade(engine)
    sessions = session_factory(engine)
    assessments, audit, overrides, kept = _rows(babies)
    async with sessions() as session:
        session.add_all(assessments)
        session.add_all(audit)
        await session.commit()
    async with sessions() as session:
        session.add_all(kept)
        await session.commit()
    async with sessions() as session:
        session.add_all(overrides)
        await session.commit()
    print(
        f"seeded: {babies} admissions, {len(assessments)} checklists, {len(audit)} audit records, "
        f"{len(overrides)} overrides, {len(kept)} rows of what the checklists say ({engine.dialect.name})"
    )
    checklists = load_checklists(ROOT / "checklists")
    measures = load_measures(ROOT / "fhir_mappings", checklists)
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        history = await read_history(sessions, PERIOD.start, PERIOD.end, measures)
        t1 = time.perf_counter()
        figures = compute(
            history, measures, PERIOD, now=datetime.now(UTC), titles={}, source_labels={}, sees_restricted=True
        )
        t2 = time.perf_counter()
        for figure in figures:
            chart_uri(figure)
        t3 = time.perf_counter()
        run = (t3 - t0, t1 - t0, t2 - t1, t3 - t2)
        best = run if best is None or run[0] < best[0] else best
    total, read, figured, drawn = best
    print(
        f"assurance page, 12 months, {len(figures)} figures: {total * 1000:.0f} ms "
        f"(read {read * 1000:.0f} ms, figures {figured * 1000:.0f} ms, charts {drawn * 1000:.0f} ms), best of 3"
    )
    t0 = time.perf_counter()
    html = board_html(
        document_environment(ROOT / "templates"), figures, period=PERIOD, routes=None, made=datetime.now(UTC), user=LEAD
    )
    try:
        pdf = pdf_of(html)
        print(f"the Board's PDF of those figures: {(time.perf_counter() - t0) * 1000:.0f} ms, {len(pdf) // 1024} KiB")
    except PdfUnavailable as exc:
        print(f"the Board's PDF: not made here ({exc})")
    if engine.dialect.name == "sqlite":
        async with engine.connect() as connection:
            for label, sql in (
                ("checklists", "SELECT id FROM assessment WHERE created_at >= '2025-12-01'"),
                (
                    "an answer figure",
                    "SELECT x.assessment_id FROM assessmentanswer x JOIN assessment a ON a.id = x.assessment_id "
                    "WHERE x.link_id = 'A4-household.person.records-checked' AND x.value IN ('true') "
                    "AND a.created_at >= '2025-12-01' AND a.checkpoint = 'admission' AND EXISTS (SELECT 1 FROM "
                    "assessmentanswer w WHERE w.assessment_id = x.assessment_id AND w.entry = x.entry "
                    "AND w.link_id = 'A4-household.person.role' AND w.value IN ('person-role-father'))",
                ),
                (
                    "first sight",
                    "SELECT nhs_number, min(at) FROM auditevent WHERE nhs_number IN ('9900000001') GROUP BY nhs_number",
                ),
            ):
                plan = (await connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))).all()
                print(f"plan, {label}: {'; '.join(str(row[-1]) for row in plan)}")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--babies", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args()
    asyncio.run(main(options.babies, options.database_url))
