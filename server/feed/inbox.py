"""The notification list and marking notifications read (the stream is stream.py)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ..db import q
from ..http import ApiError
from .rules import Position, ReadRequest, encode_position
from .serialize import notification, position_of

# unread_count is exact up to here: counting an account's millionth unread like on every request
# would cost more than the page itself.
UNREAD_COUNT_CAP = 10_000


async def unread_count(conn: asyncpg.Connection, recipient: uuid.UUID) -> int:
    return await conn.fetchval(q("notifications_unread_count"), recipient, UNREAD_COUNT_CAP)


async def page(conn: asyncpg.Connection, recipient: uuid.UUID, limit: int, after: Position | None,
               unread_only: bool) -> dict[str, Any]:
    """``{items, next_cursor, unread_count}``, newest first."""
    query = q("notifications_unread_page" if unread_only else "notifications_page")
    rows = await conn.fetch(query, recipient, str(after.tx) if after else None, after.id if after else None, limit + 1)
    shown = rows[:limit]
    next_cursor = encode_position(position_of(shown[-1])) if len(rows) > limit else None
    return {"items": [notification(r) for r in shown], "next_cursor": next_cursor,
            "unread_count": await unread_count(conn, recipient)}


async def mark_read(conn: asyncpg.Connection, recipient: uuid.UUID, req: ReadRequest) -> dict[str, Any]:
    """``{marked, unread_count}``. ``up_to`` names one of the caller's notifications (404 if it is
    not: ids of others' are never confirmed); unknown ``ids`` are skipped silently."""
    if req.up_to is not None:
        marked = await conn.fetchval(q("notifications_read_up_to"), recipient, req.up_to)
        if marked is None:
            raise ApiError(404, "notification_not_found", "no such notification")
    else:
        marked = await conn.fetchval(q("notifications_read_ids"), recipient, list(req.ids))
    return {"marked": marked, "unread_count": await unread_count(conn, recipient)}
