"""The sandbox of `neosafe demo` and the tests: sekmet FHIR R4 servers seeded with NeoSafe's synthetic families.

Part of the checkout, never of the production install (sekmet-fhir is in the `demo` dependency group).
"""

from .servers import FAMILIES_DIR, SOURCE_KINDS, Sandbox

__all__ = ["FAMILIES_DIR", "SOURCE_KINDS", "Sandbox"]
