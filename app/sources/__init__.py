"""Talk to FHIR servers, nothing else."""

from .capabilities import Capabilities, read_capabilities
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
    "Capabilities",
    "FhirClient",
    "SearchResult",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "parse_resource",
    "read_capabilities",
]
