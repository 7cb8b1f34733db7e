"""Accounts: registration, email verification, login, refresh-token rotation, logout.

Public surface for other areas: ``current_user_id`` / ``require_verified_user`` (who is calling),
``issue_access_token`` / ``decode_access_token`` (JWTs), and ``add_routes`` (the HTTP endpoints).
"""

from .context import current_user_id, require_verified_user
from .tokens import AccessClaims, decode_access_token, issue_access_token

__all__ = [
    "AccessClaims",
    "current_user_id",
    "decode_access_token",
    "issue_access_token",
    "require_verified_user",
]
