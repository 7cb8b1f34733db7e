"""Accounts: registration, email verification, login, refresh-token rotation, logout.

Public surface for other areas: ``current_user_id`` / ``require_verified_user`` (who is calling),
``issue_access_token`` / ``decode_access_token`` (JWTs), ``add_routes`` (the HTTP endpoints) and
``auth_ctx`` (cleanup context: warms the dummy hash, prunes expired revocations and counters).
"""

from .context import current_user_id, require_verified_user
from .handlers import add_routes
from .housekeeping import auth_ctx
from .tokens import AccessClaims, decode_access_token, issue_access_token

__all__ = [
    "AccessClaims",
    "add_routes",
    "auth_ctx",
    "current_user_id",
    "decode_access_token",
    "issue_access_token",
    "require_verified_user",
]
