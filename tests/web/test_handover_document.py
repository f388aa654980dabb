"""The handover as a document: every printed page names the baby, and a long summary breaks into pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from weasyprint import HTML

from app.checkpoints import DEMO_USERS, seen_by
from app.checkpoints.summary import load_severity, summarise
from app.forms import load_checklists
from app.handover import build_handover, document_environment, document_html, load_sections, pdf_of
from app.picture.models import Person, Picture, Record, SourceStatus

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def picture_with_many_records() -> Picture:
    baby = Person("baby", "Baby", "Zofia BRZOZAK", "9990101000", date(2026, 11, 20))
    records = [
        Record(
            key=f"social-care/EpisodeOfCare/{n}",
            category="child-in-need",
            category_label="Child in need",
            risk=True,
            code="135891007",
            system="http://snomed.info/sct",
            display=f"Child in need episode {n}",
            current=False,
            status="finished",
            resource_type="EpisodeOfCare",
            source="social-care",
            person_nhs_number="9990101000",
            person_role="baby",
            person_name="Zofia BRZOZAK",
            start="2024-05-12",
            end="2025-03-20",
        )
        for n in range(60)
    ]
    sources = [SourceStatus("social-care", "found", "60 records", WHEN, 60)]
    return Picture(baby=baby, people=[baby], sources=sources, records=records, gathered_at=WHEN)


def page_texts(pdf_html: str) -> list[str]:
    """The text of each laid-out page, margins included (WeasyPrint's own layout, as the PDF is made from)."""
    document = HTML(string=pdf_html).render()
    return [" ".join(t for b in p._page_box.descendants() if (t := getattr(b, "text", None))) for p in document.pages]


def test_every_printed_page_names_the_baby_and_says_it_is_confidential():
    checklists = load_checklists(ROOT / "checklists")
    sections = load_sections(ROOT / "fhir_mappings" / "handover.toml", checklists)
    picture = seen_by(picture_with_many_records(), DEMO_USERS["community-nurse"])
    handover = build_handover(picture, [], checklists, sections, now=WHEN)
    env = document_environment(ROOT / "templates")

    labels = {"social-care": "Children's social care"}
    summary = summarise(picture, load_severity(ROOT / "fhir_mappings"), labels=labels, today=WHEN.date())
    html = document_html(env, handover, labels, summary=summary)
    pages = page_texts(html)

    assert len(pages) > 2
    assert "Safeguarding summary" in pages[0]  # the risk first, as on the page
    for number, text in enumerate(pages, start=1):
        assert "Zofia BRZOZAK · NHS number 999 010 1000 · born 20 November 2026" in text, number
        assert "Never for parents" in text and f"Page {number} of {len(pages)}" in text
    assert "<script" not in html and "http" not in html.split("<body>", 1)[1]  # nothing to fetch or run
    assert pdf_of(html).startswith(b"%PDF-")
