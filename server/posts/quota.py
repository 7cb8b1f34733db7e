"""Fair use of storage and of the upload door, decided at upload/init from the database.

- ``user_quota_bytes``: an account's sources and variants together (``storage_used_by_user``);
  an upload that would pass it is 413 ``quota_exceeded``. Deleting a post gives its bytes back.
- ``uploads_per_user_per_min``: upload/init calls per account per minute, 429 ``rate_limited``
  with ``Retry-After`` beyond (shared by every instance, like the auth limits).

The pipeline is untouched: usage is read from ``posts`` and ``post_images`` when it is needed.
"""

from __future__ import annotations

import uuid

import asyncpg

from ..auth import ratelimit
from ..config import Settings
from ..db import q
from ..http import ApiError


def over_quota(used: int, incoming: int, quota: int) -> bool:
    return used + incoming > quota


async def check_quota(conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID, incoming: int) -> None:
    """413 ``quota_exceeded`` if ``incoming`` more bytes would not fit. Call with the user row locked."""
    used = int(await conn.fetchval(q("storage_used_by_user"), user_id))
    if over_quota(used, incoming, settings.user_quota_bytes):
        raise ApiError(
            413, "quota_exceeded",
            f"this upload would take the account past its {settings.user_quota_bytes} bytes; delete posts to make room",
            details={"quota_bytes": settings.user_quota_bytes, "used_bytes": used, "file_size": incoming},
        )


async def count_upload(conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID) -> None:
    """Count one upload/init of the account; 429 once the minute's allowance is spent."""
    hits, window = await ratelimit.count(conn, f"upload:user:{user_id}")
    if ratelimit.over_limit(hits, settings.uploads_per_user_per_min):
        raise ratelimit.limited(window, "uploads started")
