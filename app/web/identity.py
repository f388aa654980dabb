"""Who a CIS2 identity is in NeoSafe: the NeoSafe role of the user's selected role, and their name.

CIS2 lists the user's roles in `nhsid_nrbac_roles` (each with `person_roleid`, a `role_code` such as
`S8000:G8000:R8001` and `activity_codes`) and names the one chosen for this session in `selected_roleid`.
The trust maps role-code parts or activity codes to NeoSafe roles (NEOSAFE_OIDC_ROLES). A selected role that
maps to no NeoSafe role, or to more than one, is refused: least privilege, never a guess. The same rule serves
a person signing in to the pages and an integration calling the API with a token the provider issued.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from app.checkpoints import ROLES, Role, User

__all__ = ["SignInRefused", "VouchedTokens", "role_of", "user_of"]


class SignInRefused(Exception):
    """The identity provider vouched for the user, but nothing they hold gives them a NeoSafe role."""


def role_of(claims: dict[str, Any], mapping: dict[str, str]) -> Role:
    """The NeoSafe role of the user's selected CIS2 role (or their only one)."""
    roles = claims.get("nhsid_nrbac_roles") or []
    selected = claims.get("selected_roleid")
    chosen = [r for r in roles if r.get("person_roleid") == selected] if selected else roles
    if len(chosen) != 1:
        raise SignInRefused("choose one role when you sign in: NeoSafe cannot tell which of your roles you are using")
    role = chosen[0]
    codes = [*str(role.get("role_code", "")).split(":"), *(role.get("activity_codes") or [])]
    matched = {mapping[c] for c in codes if c in mapping}
    if len(matched) != 1:
        reason = "gives no NeoSafe role" if not matched else "matches more than one NeoSafe role"
        raise SignInRefused(
            f"your selected role ({role.get('role_code', 'no role code')}) {reason}: ask your trust's "
            "registration authority or the NeoSafe administrator"
        )
    return ROLES[matched.pop()]


def _name(claims: dict[str, Any]) -> str:
    given_family = " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    return claims.get("name") or given_family or str(claims["sub"])


def user_of(claims: dict[str, Any], mapping: dict[str, str]) -> User:
    """The NeoSafe user the provider's claims describe; SignInRefused if their role gives none."""
    return User(id=str(claims["sub"]), name=_name(claims), role=role_of(claims, mapping))


class VouchedTokens:
    """Access tokens the provider has vouched for, kept a minute so each API call does not ask it again.
    Only a digest of each token is kept."""

    def __init__(self, ttl_s: float = 60.0, most: int = 1000) -> None:
        self.ttl_s, self.most = ttl_s, most
        self._users: dict[str, tuple[float, User]] = {}

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> User | None:
        found = self._users.get(self._key(token))
        return found[1] if found and found[0] > time.monotonic() else None

    def put(self, token: str, user: User) -> None:
        now = time.monotonic()
        self._users = {k: v for k, v in self._users.items() if v[0] > now}
        if len(self._users) >= self.most:
            self._users.pop(next(iter(self._users)))
        self._users[self._key(token)] = (now + self.ttl_s, user)
