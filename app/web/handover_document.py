"""The handover summary as a document of its own: standalone HTML, and a PDF laid out from it by WeasyPrint."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment

from app.handover import SUMMARIES, Handover

from .auth import ROLES, User

__all__ = ["PdfUnavailable", "document_html", "document_reader", "pdf_of"]

CSS = (Path(__file__).parent / "static" / "neosafe" / "handover-print.css").read_text(encoding="utf-8")


class PdfUnavailable(Exception):
    """WeasyPrint cannot run here: the system lacks the Pango libraries it lays text out with."""


def document_reader() -> User:
    """Whom the summary written to the baby's record is drawn for: the community team, who do not see
    restricted records' detail (they see that one exists and whom to ask)."""
    return User("neosafe-handover", "NeoSafe handover summary", ROLES["community-nurse"])


def document_html(
    env: Environment,
    handover: Handover,
    labels: dict[str, str],
    user: User,
    *,
    title: str = SUMMARIES["discharge"][0],
) -> str:
    """The summary as `user` may see it (restricted detail only for roles that may), with its style inline."""
    template = env.get_template("handover_document.html")
    return template.render(handover=handover, picture=handover.picture, labels=labels, user=user, css=CSS, title=title)


def pdf_of(html: str) -> bytes:
    try:
        from weasyprint import HTML  # imported here: it loads Pango, which only the PDF needs
    except OSError as exc:
        raise PdfUnavailable(
            "PDFs cannot be made on this server: it lacks the Pango libraries (apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0). The summary page itself works and can be printed."
        ) from exc
    return HTML(string=html).write_pdf()
