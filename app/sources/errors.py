"""Errors from talking to a FHIR source. Every one carries the source's name and the URL asked.

SourceError            base: something went wrong asking `source` at `url`
 +- SourceUnavailable  the source could not answer: connection refused, timeout, 5xx, 429 (transient)
 |   +- SourceTimeout  no answer within the source's timeout
 +- SourceAuthError    the source refused our credentials (401, 403)
 +- SourceRejected     the source understood and refused the request (other 4xx), with its OperationOutcome text
 +- SourceDataError    the source answered with something that is not the FHIR we asked for
"""

from __future__ import annotations

__all__ = [
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
]


class SourceError(Exception):
    """Something went wrong asking a FHIR source; `reason` is safe to show a clinician."""

    def __init__(
        self,
        reason: str,
        *,
        source: str,
        url: str,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{source}: {reason}")
        self.reason = reason
        self.source = source
        self.url = url
        self.status_code = status_code
        self.retry_after_s = retry_after_s  # what the server asked for (Retry-After), if it said

    @property
    def transient(self) -> bool:
        """Whether asking again later may succeed."""
        return False


class SourceUnavailable(SourceError):
    @property
    def transient(self) -> bool:
        return True


class SourceTimeout(SourceUnavailable):
    pass


class SourceAuthError(SourceError):
    pass


class SourceRejected(SourceError):
    pass


class SourceDataError(SourceError):
    pass
