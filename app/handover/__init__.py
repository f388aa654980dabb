"""The handover to the community team: the picture and the checklists' answers, as one summary."""

from .document import PdfUnavailable, document_environment, document_html, pdf_of
from .document_reference import HANDOVER_ID_SYSTEM, SUMMARIES, handover_document
from .holds import DischargeHold, Finding, Override
from .recipients import Recipients, handover_communications, load_recipients, route_again
from .routes import NOT_REACHABLE, Routes, home_address, load_routes, recipient_entries
from .sections import Section, load_sections
from .summary import Handover, Part, Recorded, build_handover

__all__ = [
    "HANDOVER_ID_SYSTEM",
    "NOT_REACHABLE",
    "SUMMARIES",
    "DischargeHold",
    "Finding",
    "Handover",
    "Override",
    "Part",
    "PdfUnavailable",
    "Recipients",
    "Recorded",
    "Routes",
    "Section",
    "build_handover",
    "document_environment",
    "document_html",
    "handover_communications",
    "handover_document",
    "home_address",
    "load_recipients",
    "load_routes",
    "load_sections",
    "pdf_of",
    "recipient_entries",
    "route_again",
]
