"""The handover to the community team: the picture and the checklists' answers, as one summary."""

from .sections import Section, load_sections
from .summary import Handover, Line, Part, Recorded, build_handover

__all__ = ["Handover", "Line", "Part", "Recorded", "Section", "build_handover", "load_sections"]
