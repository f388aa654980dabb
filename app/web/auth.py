"""Who is asking, and what their role lets them do. The one seam for sign-in: demo users today, OIDC later.

Tokens (API bearer tokens and the page session cookie) are signed with NEOSAFE_SECRET_KEY and expire.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = ["DEMO_USERS", "ROLES", "Role", "TokenError", "User", "issue_token", "read_token"]


@dataclass(frozen=True)
class Role:
    key: str
    label: str
    may_submit: frozenset[str]  # checkpoints this role may complete
    sees_restricted: bool  # may read restricted (R/V) records in full
    may_resend: bool = False  # may send again an assessment the FHIR server refused
    may_cosign: bool = False  # the named nurse for safeguarding: co-signs where a checklist asks for it


ROLES: dict[str, Role] = {
    r.key: r
    for r in (
        Role("nurse", "Neonatal nurse", frozenset({"admission", "transfer", "discharge"}), True),
        Role("discharge-coordinator", "Discharge coordinator", frozenset({"transfer", "discharge"}), True),
        Role("community-nurse", "Community neonatal nurse", frozenset(), False),
        Role(
            "safeguarding-lead",
            "Safeguarding lead",
            frozenset({"admission", "transfer", "discharge"}),
            True,
            True,
            True,
        ),
    )
}


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role

    def reference(self) -> dict:
        """The user as a FHIR Reference, for author and performer."""
        return {
            "identifier": {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": self.id},
            "display": f"{self.name} ({self.role.label})",
        }


DEMO_USERS: dict[str, User] = {
    u.role.key: u
    for u in (
        User("demo-nurse", "Alex Morgan", ROLES["nurse"]),
        User("demo-discharge", "Sam Patel", ROLES["discharge-coordinator"]),
        User("demo-community", "Jo Williams", ROLES["community-nurse"]),
        User("demo-safeguarding", "Chris Okafor", ROLES["safeguarding-lead"]),
    )
}


class TokenError(Exception):
    """A token that is missing, forged, expired or names nobody we know."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="neosafe-user")


def issue_token(user: User, *, secret: str) -> str:
    return _serializer(secret).dumps({"id": user.id, "name": user.name, "role": user.role.key})


def read_token(token: str, *, secret: str, max_age_s: float) -> User:
    try:
        data = _serializer(secret).loads(token, max_age=max_age_s)
    except SignatureExpired as exc:
        raise TokenError("your sign-in has expired: sign in again") from exc
    except BadSignature as exc:
        raise TokenError("not a valid NeoSafe token") from exc
    role = ROLES.get(data.get("role", ""))
    if role is None:
        raise TokenError("token names an unknown role")
    return User(id=str(data["id"]), name=str(data["name"]), role=role)
