"""The home feed: one page of the viewer's own and followees' public posts, newest first.

Fan-out on read, in up to two queries (queries/feed.sql; the measured comparison with fan-out on
write is in the README): first the recent window (the newest public posts below the cursor,
filtered by the followee set), and, only if that found less than a page, the per-followee merge
below the window's last hit. Nothing is stored per follower, so the next request always reflects
the current follows, blocks, deletions and moderation statuses, and paging reaches back to the
first post ever followed, with keyset cursors on (published_at, id).
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import asyncpg

from ..db import q
from ..posts.cursor import encode_cursor
from . import rules
from .serialize import feed_item


async def page(conn: asyncpg.Connection, viewer: uuid.UUID, limit: int, after: tuple[Any, Any] | None,
               url_for: Callable[[str], str]) -> dict[str, Any]:
    """``{items, next_cursor}``; ``after`` is the decoded cursor (published_at, id) or None."""
    after_at, after_id = after or (None, None)
    wanted = limit + 1  # one more than asked says whether another page exists
    rows: list[asyncpg.Record] = []
    following = await conn.fetchval(q("feed_following_count"), viewer) or 0
    if rules.uses_window(following):
        rows = list(await conn.fetch(q("feed_window"), viewer, after_at, after_id, rules.WINDOW_POSTS, wanted))
    if rules.needs_merge(len(rows), wanted):
        # The window held no more hits below its last one: the merge continues from there.
        at, ident = (rows[-1]["published_at"], rows[-1]["id"]) if rows else (after_at, after_id)
        rows += await conn.fetch(q("feed_merge"), viewer, at, ident, wanted - len(rows))
    shown = rows[:limit]
    images: dict[uuid.UUID, list[asyncpg.Record]] = {}
    if shown:
        for image in await conn.fetch(q("post_images_for"), [r["id"] for r in shown]):
            images.setdefault(image["post_id"], []).append(image)
    next_cursor = encode_cursor(shown[-1]["published_at"], shown[-1]["id"]) if len(rows) > limit else None
    return {"items": [feed_item(r, images.get(r["id"], []), url_for) for r in shown], "next_cursor": next_cursor}
