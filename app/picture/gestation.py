"""Gestation at birth from the record: what makes a baby preterm, and its corrected age. Unknown stays unknown.

A source states it as an Observation about the baby coded as in record-types.toml's [gestation] (SNOMED CT
412726003 *Length of gestation at birth*, LOINC 76516-4) with valueQuantity in UCUM weeks or days. Anything else is
not read as a gestation, and never as "term": a baby whose gestation no source states has `preterm` unknown.
"""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["TERM_DAYS", "corrected_age_days", "gestation_days", "settled"]

UCUM = "http://unitsofmeasure.org"
DAYS_PER = {"wk": 7, "d": 1}
TERM_DAYS = 37 * 7  # 37+0: born before it is preterm
PLAUSIBLE = range(20 * 7, 45 * 7 + 1)
DUE_DAYS = 40 * 7  # corrected age counts from the due date


def gestation_days(observation: dict[str, Any], codes: frozenset[tuple[str, str]]) -> int | None:
    """The gestation at birth this Observation states, in days, or None if it states none NeoSafe can read."""
    if observation.get("status") in ("entered-in-error", "cancelled"):
        return None
    code = observation.get("code") or {}
    codings = {(c.get("system"), c.get("code")) for c in code.get("coding") or [] if isinstance(c, dict)}
    if not codings & codes:
        return None
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, dict) or quantity.get("system") != UCUM or quantity.get("code") not in DAYS_PER:
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        days = round(float(value) * DAYS_PER[quantity["code"]])
    except (TypeError, ValueError, OverflowError):
        return None
    return days if days in PLAUSIBLE else None


def settled(stated: list[int]) -> int | None:
    """One gestation if every source that states one agrees, else unknown."""
    return stated[0] if stated and len(set(stated)) == 1 else None


def corrected_age_days(birth: date | None, gestation: int | None, today: date) -> int | None:
    """Age corrected for prematurity (negative before the due date); None unless both are known."""
    if birth is None or gestation is None:
        return None
    return (today - birth).days - (DUE_DAYS - gestation)
