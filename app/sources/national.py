"""What every NHS England national API request carries besides the clinician's token: a fresh request id."""

from __future__ import annotations

import uuid

__all__ = ["new_request_id"]


def new_request_id() -> str:
    """A fresh X-Request-ID: a UUID, one per request, kept in NeoSafe's audit so a request can be traced with NHS
    England."""
    return str(uuid.uuid4())
