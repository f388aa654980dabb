"""Is the person a source holds under an NHS number the person the household means? Name and date of birth.

A wrong NHS number (mistyped, or someone else's) would otherwise pull a stranger's records into the family, so
every Patient or RelatedPerson a source holds under a household member's number is compared with what the
household says about them:

- names: family name and first given name, compared case-, diacritic- and punctuation-insensitively (Paweł =
  PAWEL, Smith-Jones = Smith Jones); a side with no given name is compared on the family name only; any of the
  held names (official, maiden, usual) matching any of the household's names is a match;
- date of birth: equal dates; a birthDate that is not a full date is not evidence either way.

Any difference is an *identity mismatch* (nothing from that source is attributed). Agreement on at least one
of the two, with no difference, confirms the identity; a source holding neither (a Patient with no name and no
readable birthDate) leaves it *not verified*, and then nothing from it is attributed either.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

__all__ = ["Identity", "Verdict", "compare", "identity_of"]

Verdict = Literal["match", "mismatch", "unverified"]

# Letters NFKD does not split into a base letter and a mark.
_FOLDED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"})


def _fold(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
    return "".join(c for c in plain.translate(_FOLDED) if c.isalnum())


def _name_keys(resource: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """(family, first given) of each name, folded; given is "" when not recorded."""
    keys = set()
    names = resource.get("name")
    for name in names if isinstance(names, list) else []:
        if not isinstance(name, dict):
            continue
        family, given = _fold(name.get("family")), name.get("given")
        first = _fold(given[0]) if isinstance(given, list) and given else ""
        if not family and isinstance(name.get("text"), str):  # text only: "Given ... Family"
            words = name["text"].split()
            family, first = (_fold(words[-1]), _fold(words[0]) if len(words) > 1 else "") if words else ("", "")
        if family:
            keys.add((family, first))
    return frozenset(keys)


def _birth_date(resource: dict[str, Any]) -> date | None:
    value = resource.get("birthDate")
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Identity:
    """What a resource says about who someone is."""

    names: frozenset[tuple[str, str]]
    birth_date: date | None


def identity_of(resource: dict[str, Any]) -> Identity:
    return Identity(_name_keys(resource), _birth_date(resource))


def _same_name(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return a[0] == b[0] and (not a[1] or not b[1] or a[1] == b[1])


def compare(claimed: Identity, held: Identity) -> Verdict:
    """Whether `held` (a source's record under the NHS number) is the `claimed` person."""
    agreed = False
    if claimed.names and held.names:
        if not any(_same_name(a, b) for a in claimed.names for b in held.names):
            return "mismatch"
        agreed = True
    if claimed.birth_date and held.birth_date:
        if claimed.birth_date != held.birth_date:
            return "mismatch"
        agreed = True
    return "match" if agreed else "unverified"
