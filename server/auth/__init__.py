"""Accounts: sign-up and email verification (squatting-safe), login (lock-out-safe), refresh-token
rotation, logout, password reset, the pages mailed links open, and immediate revocation.

Public surface for other areas: ``current_user_id`` / ``require_verified_user`` (who is calling;
revocation is checked in memory), ``issue_access_token`` / ``decode_access_token`` (JWTs),
``add_routes`` (the HTTP endpoints and pages) and ``auth_ctx`` (cleanup context: warms the dummy
hash, listens for revocations, prunes expired rows). To revoke an account's sessions, revoke its
``refresh_token_families`` rows (or delete the user): a trigger revokes their access tokens on every
instance. ``ratelimit.count``/``limited`` are the shared fixed-window limiter.
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
