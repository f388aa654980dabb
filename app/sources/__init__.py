"""Talk to FHIR servers, nothing else."""

from .auth import SmartBackendAuth, auth_for
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
    "SmartBackendAuth",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "auth_for",
    "parse_resource",
    "read_capabilities",
]
