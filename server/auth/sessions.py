"""Ending every session of an account at once, for callers outside this package (account deletion).

The same revocations as "log out everywhere" (POST /api/v1/auth/logout without a refresh token):
kept here, beside the token code, so that whatever revocation gains later reaches every caller.
"""

from __future__ import annotations

import asyncpg

from ..db import q
from . import refresh
from .tokens import AccessClaims


async def end_all_sessions(conn: asyncpg.Connection, claims: AccessClaims) -> None:
    """Revoke the calling access token and every login (refresh-token family) of its account.
    Run it inside the caller's transaction so the revocation commits with the caller's change."""
    await conn.execute(q("revoke_access_token"), claims.jti)
    await refresh.revoke(conn, claims.sub, None)
