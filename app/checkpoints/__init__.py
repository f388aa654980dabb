"""The application layer: every use case of a checkpoint, and the one place each rule is decided.

Authorisation is `policy.may`; what a role sees of restricted records is `redaction.seen_by`; a submission
stored once however often it arrives is `submissions`; the steps of a checkpoint are `Checkpoints`' methods.
`web/` only adapts them to HTTP and pages.
"""

from .outcomes import AlreadySubmitted, Conflict, Forbidden, NotFound, NotWritable, Refused, Submitted
from .policy import Action, may, require
from .redaction import WITHHELD, seen_by
from .service import Checkpoints
from .users import DEMO_USERS, ROLES, Launched, Role, User
from .watching import Watcher

__all__ = [
    "DEMO_USERS",
    "ROLES",
    "WITHHELD",
    "Action",
    "AlreadySubmitted",
    "Checkpoints",
    "Conflict",
    "Forbidden",
    "Launched",
    "NotFound",
    "NotWritable",
    "Refused",
    "Role",
    "Submitted",
    "User",
    "Watcher",
    "may",
    "require",
    "seen_by",
]
