"""The paged lists: followers, following, blocks, likers, comments.

Keyset paging on (the edge's created_at, the other row's id), like the posts list and with the same
opaque cursor: rows added or removed while a client pages through never shift a later page, so
there are no gaps and no repeats. Followers, following, blocks and likers run newest first;
comments oldest first (a conversation reads down). Accounts across a block from the viewer are
filtered out in SQL, before LIMIT, so pages stay full.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import asyncpg

from ..db import q
from ..posts.cursor import decode_cursor, encode_cursor
from .serialize import comment_json, user_summary


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after_at: Any = None  # datetime of the cursor, or None for the first page
    after_id: uuid.UUID | None = None

    @classmethod
    def parse(cls, limit: int, cursor: str | None) -> "PageRequest":
        after_at, after_id = decode_cursor(cursor) if cursor else (None, None)
        return cls(limit, after_at, after_id)


@dataclass(frozen=True)
class ListSpec:
    query: str
    order_key: tuple[str, str]  # (timestamp column, id column) the cursor is made of
    item: Callable[[Mapping[str, Any]], dict[str, Any]]


FOLLOWERS = ListSpec("social_followers_page", ("edge_at", "id"), user_summary)
FOLLOWING = ListSpec("social_following_page", ("edge_at", "id"), user_summary)
LIKERS = ListSpec("social_likers_page", ("edge_at", "id"), user_summary)
COMMENTS = ListSpec("social_comments_page", ("created_at", "id"), comment_json)
BLOCKS = ListSpec("social_blocks_page", ("edge_at", "id"), user_summary)


async def page(conn: asyncpg.Connection, spec: ListSpec, subject: uuid.UUID, req: PageRequest,
               viewer: uuid.UUID | None) -> dict[str, Any]:
    """``{items, next_cursor}`` for ``subject`` (the account or post the list belongs to)."""
    args: tuple[Any, ...] = (subject, req.after_at, req.after_id)
    if spec is not BLOCKS:  # one's own blocks list has no one to hide
        args += (viewer,)
    # One row more than asked says whether another page exists, without a count.
    rows = await conn.fetch(q(spec.query), *args, req.limit + 1)
    shown = rows[:req.limit]
    at_key, id_key = spec.order_key
    next_cursor = encode_cursor(shown[-1][at_key], shown[-1][id_key]) if len(rows) > req.limit else None
    return {"items": [spec.item(r) for r in shown], "next_cursor": next_cursor}
