"""Every FHIR system and URL NeoSafe reads or writes, in one place: identifiers, code systems, profiles.

NeoSafe's own live under https://neosafe.org.uk/fhir/; the rest are NHS England's and HL7's.
"""

from __future__ import annotations

__all__ = [
    "ASSESSMENT_ID_SYSTEM",
    "ASSESSMENT_TAG_SYSTEM",
    "AUDIT_ACTION_SYSTEM",
    "CONFIDENTIALITY_SYSTEM",
    "DATA_OPERATION_SYSTEM",
    "FHIR_EXTENSION_BASE",
    "HANDOVER_ID_SYSTEM",
    "NEW_INFORMATION_ID_SYSTEM",
    "NHS_NUMBER_SYSTEM",
    "NHS_NUMBER_VERIFICATION_EXTENSION",
    "NHS_NUMBER_VERIFICATION_SYSTEM",
    "OBSERVATION_CATEGORY_SYSTEM",
    "OBSERVATION_ID_SYSTEM",
    "PATIENT_FLAG_CATEGORY_SYSTEM",
    "PROVENANCE_PARTICIPANT_TYPE_SYSTEM",
    "SDC_EXTENSION_BASE",
    "SDS_USER_ID_SYSTEM",
    "SECURITY_SOURCE_TYPE_SYSTEM",
    "SNOMED_SYSTEM",
    "TASK_ID_SYSTEM",
    "WATCH_SUBSCRIPTION_TAG_SYSTEM",
    "WRITE_KEY_SYSTEM",
]

# NHS England
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# The Patient Flags API's flag categories (NRAF, CP-IS, FGM): NON-NORMATIVE, from NHS England's draft patient-flags
# experiment (2024); fhir_mappings/categories.toml reads them.
PATIENT_FLAG_CATEGORY_SYSTEM = "https://fhir.nhs.uk/England/CodeSystem/PatientFlagCategory"
SDS_USER_ID_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
# UK Core: PDS's verification status of an NHS number, an extension on the Patient's NHS-number identifier
NHS_NUMBER_VERIFICATION_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
NHS_NUMBER_VERIFICATION_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"

# NeoSafe's own: the stable identifiers that make every write a conditional create, never a duplicate
_NEOSAFE = "https://neosafe.org.uk/fhir"
ASSESSMENT_ID_SYSTEM = f"{_NEOSAFE}/Id/assessment"
OBSERVATION_ID_SYSTEM = f"{_NEOSAFE}/Id/observation"
TASK_ID_SYSTEM = f"{_NEOSAFE}/Id/task"
HANDOVER_ID_SYSTEM = f"{_NEOSAFE}/Id/handover"
NEW_INFORMATION_ID_SYSTEM = f"{_NEOSAFE}/Id/new-information"  # a Task the watch job raised
ASSESSMENT_TAG_SYSTEM = f"{_NEOSAFE}/CodeSystem/assessment"
WRITE_KEY_SYSTEM = f"{_NEOSAFE}/CodeSystem/write-key"
AUDIT_ACTION_SYSTEM = f"{_NEOSAFE}/CodeSystem/audit-action"
WATCH_SUBSCRIPTION_TAG_SYSTEM = f"{_NEOSAFE}/CodeSystem/watch-subscription"  # the watch job's own Subscriptions

# HL7 and SNOMED CT
SNOMED_SYSTEM = "http://snomed.info/sct"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
PROVENANCE_PARTICIPANT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
SECURITY_SOURCE_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/security-source-type"
SDC_EXTENSION_BASE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
FHIR_EXTENSION_BASE = "http://hl7.org/fhir/StructureDefinition/"
