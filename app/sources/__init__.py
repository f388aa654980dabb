"""Talk to FHIR servers, nothing else."""

from .auth import SmartBackendAuth, auth_for
from .capabilities import Capabilities, KeptCapabilities, read_capabilities
from .client import MAX_DEPTH, FhirClient, Query, SearchResult, off_the_loop, parse_resource
from .cpis import ACCESS_HISTORY_INCLUDE, CpisRequest, access_events, care_teams, new_cpis_request
from .errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
)
from .flags import flags
from .national import new_request_id
from .pds import PdsTrace, pds_patient, pds_related_people, pds_search

__all__ = [
    "ACCESS_HISTORY_INCLUDE",
    "MAX_DEPTH",
    "Capabilities",
    "CpisRequest",
    "FhirClient",
    "KeptCapabilities",
    "PdsTrace",
    "Query",
    "SearchResult",
    "SmartBackendAuth",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceRejected",
    "SourceTimeout",
    "SourceUnavailable",
    "access_events",
    "auth_for",
    "care_teams",
    "flags",
    "new_cpis_request",
    "new_request_id",
    "off_the_loop",
    "parse_resource",
    "pds_patient",
    "pds_related_people",
    "pds_search",
    "read_capabilities",
]
