"""Gather what the sources know about a baby's family and classify it: the safeguarding picture."""

from .changes import mark_changes, snapshot
from .classify import RESTRICTED_LABEL
from .cpis import CpisAccess
from .flags import FLAGS_ROLES, FlagsAccess
from .gather import BabyNotFound, gather_picture
from .mappings import Mappings, load_mappings
from .models import Access, AccessHistory, CheckStatus, OpenTask, Person, PersonCheck, Picture, Record, SourceStatus
from .national import NEEDS_SIGN_IN
from .pds import PdsAccess
from .view import picture_context

__all__ = [
    "FLAGS_ROLES",
    "NEEDS_SIGN_IN",
    "RESTRICTED_LABEL",
    "Access",
    "AccessHistory",
    "BabyNotFound",
    "CheckStatus",
    "CpisAccess",
    "FlagsAccess",
    "Mappings",
    "OpenTask",
    "PdsAccess",
    "Person",
    "PersonCheck",
    "Picture",
    "Record",
    "SourceStatus",
    "gather_picture",
    "load_mappings",
    "mark_changes",
    "picture_context",
    "snapshot",
]
