"""Signed tokens: who is asking, as NeoSafe's own API tokens and page session cookie carry them.

Roles and what they may do are the application layer's (app.checkpoints.users and .policy). Tokens are
signed with NEOSAFE_SECRET_KEY and expire.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.checkpoints import ROLES, User

__all__ = ["TokenError", "issue_token", "read_token"]


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
    if not isinstance(data, dict):
        raise TokenError("not a valid NeoSafe token")
    role = ROLES.get(data.get("role")) if isinstance(data.get("role"), str) else None
    if role is None:
        raise TokenError("token names an unknown role")
    user_id, name = data.get("id"), data.get("name")
    if not (isinstance(user_id, str) and user_id and isinstance(name, str) and name):
        raise TokenError("token does not say who it is for")
    return User(id=user_id, name=name, role=role)
