"""Per-account limits on follows, likes and comments: auth's fixed one-minute windows in PostgreSQL
(server/auth/ratelimit.py), so every instance enforces one limit; 429 ``rate_limited`` with
``Retry-After`` when passed. A bot must not follow 10,000 accounts in a minute.
"""

from __future__ import annotations

import uuid

import asyncpg

from ..auth import ratelimit
from ..config import Settings

FOLLOW, LIKE, COMMENT, DELETE_ACCOUNT = "follow", "like", "comment", "delete_account"


def limit_for(settings: Settings, action: str) -> int:
    """Unfollow counts as follow and unlike as like: following and unfollowing in a loop is the
    same spam; deletion attempts (password guesses with a stolen token) share the account limit."""
    return {
        FOLLOW: settings.rate_limit_follows_per_min,
        LIKE: settings.rate_limit_likes_per_min,
        COMMENT: settings.rate_limit_comments_per_min,
        DELETE_ACCOUNT: settings.rate_limit_account_per_min,
    }[action]


async def hit(conn: asyncpg.Connection, settings: Settings, action: str, user_id: uuid.UUID) -> None:
    """Count one attempt of ``action`` by ``user_id``; 429 once past the window's limit. One round
    trip that does not wait for the WAL flush (``hit_rate_limit``)."""
    await ratelimit.hit(conn, ratelimit.account_bucket(action, str(user_id)), limit_for(settings, action))
