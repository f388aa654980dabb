"""Signed tokens: NeoSafe's own API tokens, which say who is asking, and the page cookie's, which names a sign-in.

An API token (`issue_token`, e.g. `neosafe token`) carries the user and lasts its absolute age. A page cookie
carries only the id of a sign-in kept in the database (app.assessments.sign_ins), which decides whether it is
still open. Each kind is signed with NEOSAFE_SECRET_KEY under its own salt, so neither passes for the other.
Roles and what they may do are the application layer's (app.checkpoints.users and .policy).
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.checkpoints import ROLES, User

__all__ = ["TokenError", "issue_session_token", "issue_token", "read_session_token", "read_token"]


class TokenError(Exception):
    """A token that is missing, forged, expired or names nobody we know."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="neosafe-user")


def _session_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="neosafe-session")


def _loaded(serializer: URLSafeTimedSerializer, token: str, *, max_age_s: float, invalid: str) -> object:
    """What a token carries; TokenError if it is expired, forged or not of this serializer's kind."""
    try:
        return serializer.loads(token, max_age=max_age_s)
    except SignatureExpired as exc:
        raise TokenError("your sign-in has expired: sign in again") from exc
    except BadSignature as exc:
        raise TokenError(invalid) from exc


def issue_token(user: User, *, secret: str) -> str:
    return _serializer(secret).dumps({"id": user.id, "name": user.name, "role": user.role.key})


def read_token(token: str, *, secret: str, max_age_s: float) -> User:
    data = _loaded(_serializer(secret), token, max_age_s=max_age_s, invalid="not a valid NeoSafe token")
    if not isinstance(data, dict):
        raise TokenError("not a valid NeoSafe token")
    role = ROLES.get(data.get("role")) if isinstance(data.get("role"), str) else None
    if role is None:
        raise TokenError("token names an unknown role")
    user_id, name = data.get("id"), data.get("name")
    if not (isinstance(user_id, str) and user_id and isinstance(name, str) and name):
        raise TokenError("token does not say who it is for")
    return User(id=user_id, name=name, role=role)


def issue_session_token(sign_in_id: str, *, secret: str) -> str:
    """The page cookie's token: the sign-in's id, signed and dated."""
    return _session_serializer(secret).dumps({"sign_in": sign_in_id})


def read_session_token(token: str, *, secret: str, max_age_s: float) -> str:
    """The id of the sign-in a page cookie names; TokenError for anything else, an API token included."""
    data = _loaded(_session_serializer(secret), token, max_age_s=max_age_s, invalid="not a valid NeoSafe sign-in")
    sign_in_id = data.get("sign_in") if isinstance(data, dict) else None
    if not (isinstance(sign_in_id, str) and sign_in_id):
        raise TokenError("not a valid NeoSafe sign-in")
    return sign_in_id
