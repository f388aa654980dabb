"""Pages, JSON API and sign-in: thin adapters of the application layer (app.checkpoints) to HTTP."""

from .auth import issue_token
from .errors import install_error_handlers
from .logging import RequestLogMiddleware

__all__ = ["RequestLogMiddleware", "install_error_handlers", "issue_token"]
