"""Pages, JSON API and sign-in."""

from .auth import DEMO_USERS, ROLES, User, issue_token
from .errors import install_error_handlers
from .logging import RequestLogMiddleware
from .services import Services

__all__ = ["DEMO_USERS", "ROLES", "RequestLogMiddleware", "Services", "User", "install_error_handlers", "issue_token"]
