"""Talk to FHIR servers, nothing else."""

from .client import FhirClient, SearchResult, parse_resource
from .errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)

__all__ = [
    "FhirClient",
    "SearchResult",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "parse_resource",
]
