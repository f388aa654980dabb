"""The handover summary as a document of its own: standalone HTML, and a PDF laid out from it by WeasyPrint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, pass_context
from jinja2.filters import do_indent
from markupsafe import Markup

from app.nhs_style import format_nhs_number, nhs_date

from .cosigning import cosignature, version_label
from .document_reference import SUMMARIES
from .summary import Action, Handover

__all__ = ["PdfUnavailable", "document_environment", "document_html", "pdf_of"]

STYLE = "handover-print.css"  # in the templates folder, put inline into each document


class PdfUnavailable(Exception):
    """WeasyPrint cannot run here: the system lacks the Pango libraries it lays text out with."""


def document_environment(templates_dir: Path) -> Environment:
    """Jinja2 with the NHS.UK frontend components, autoescaped, with the NHS style's filters: the pages use it
    too, so a page and a document draw the same thing the same way."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(templates_dir), PackageLoader("nhsuk_frontend_jinja")]),
        undefined=ChainableUndefined,
        autoescape=True,
        # the templates ship with the code: no stat of every template file each time one is drawn or included
        auto_reload=False,
    )
    env.filters["indent"] = indent
    env.filters["nhs_number"] = format_nhs_number
    env.filters["nhs_date"] = nhs_date
    env.filters["cosignature"] = cosignature
    env.filters["version_label"] = version_label
    env.filters["actions"] = lambda rows: [Action.raised(task, raised_by or "") for task, raised_by in rows]
    env.filters["checkpoint_title"] = _checkpoint_title
    return env


def indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    """Jinja's `indent` filter, the same text, at the speed of plain strings: the NHS.UK components indent each
    part they draw (a date input: its fieldset, each box, each label), and Jinja's own does it on Markup, wrapping
    every line in a Markup of its own and "escaping" each again as it joins them (a fifth of a checklist page's
    CPU). On Markup it indents the plain text, with the indent as given (as Jinja's, which marks it safe), and
    marks the answer safe; anything else is Jinja's own."""
    if type(s) is Markup:
        return Markup(do_indent(str.__str__(s), width, first, blank))
    return do_indent(s, width, first, blank)


@pass_context
def _checkpoint_title(context: Any, checkpoint: str) -> str:
    """A checkpoint as pages name it ("72-hour review"), never its id: from the summary drawn, else the app's
    checklists (a page's request carries them)."""
    handover = context.get("handover")
    if isinstance(handover, Handover):
        return handover.titles.get(checkpoint, checkpoint)
    request = context.get("request")
    return request.app.state.checkpoints.checklists.short_title(checkpoint) if request else checkpoint


def document_html(
    env: Environment,
    handover: Handover,
    labels: dict[str, str],
    *,
    summary: Any,
    title: str = SUMMARIES["discharge"][0],
) -> str:
    """The summary with its style inline; its picture is drawn as it is (already as its reader may see it), and
    `summary` (the safeguarding summary of that picture, app.checkpoints.summary) heads its key risks, as on the
    page."""
    css, _, _ = env.loader.get_source(env, STYLE)
    template = env.get_template("handover_document.html")
    return template.render(
        handover=handover, picture=handover.picture, summary=summary, labels=labels, css=css, title=title
    )


def pdf_of(html: str) -> bytes:
    try:
        from weasyprint import HTML  # imported here: it loads Pango, which only the PDF needs
    except OSError as exc:
        raise PdfUnavailable(
            "PDFs cannot be made on this server: it lacks the Pango libraries (apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0). The summary page itself works and can be printed."
        ) from exc
    # PDF/UA-1: tagged, so a screen reader reads it in order; its language and title come from the document's
    # <html lang> and <title>.
    return HTML(string=html).write_pdf(pdf_variant="pdf/ua-1")
