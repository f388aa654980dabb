"""Talk to FHIR servers, nothing else."""

from .auth import SmartBackendAuth, auth_for
from .capabilities import Capabilities, KeptCapabilities, read_capabilities
from .client import MAX_DEPTH, FhirClient, Query, SearchResult, off_the_loop, parse_resource
from .errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)

__all__ = [
    "MAX_DEPTH",
    "Capabilities",
    "FhirClient",
    "KeptCapabilities",
    "Query",
    "SearchResult",
    "SmartBackendAuth",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "auth_for",
    "off_the_loop",
    "parse_resource",
    "read_capabilities",
]
