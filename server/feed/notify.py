"""Writing notifications: what server/social calls inside its action's transaction, and the
announcement its handler makes after the commit.

Each function runs on the caller's connection, inside its transaction, so a notification commits
or rolls back with the follow, like or comment it is about. They return the recipient to
announce (None when the rules say nobody is told: one's own post, a block, a repeat within a day),
and the handler passes that to ``announce`` once the transaction has committed: a NOTIFY inside
the action's transaction would serialise every commit on PostgreSQL's notify lock.
"""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from ..db import q
from .rules import REPEAT_WINDOW_S
from .stream import HUB

# The statement social's like and unlike run instead of social_set_like alone: the same columns,
# plus `notify`. One statement keeps a like one round trip.
SET_LIKE = "notify_set_like"


def set_like_args(post_id: uuid.UUID, actor: uuid.UUID, like: bool) -> tuple[object, ...]:
    return (post_id, actor, like, float(REPEAT_WINDOW_S))


async def followed(conn: asyncpg.Connection, actor: uuid.UUID, target: uuid.UUID) -> uuid.UUID | None:
    """``actor`` now follows ``target``: ``target`` hears of it (once a day at most)."""
    return await conn.fetchval(q("notify_follow"), actor, target, float(REPEAT_WINDOW_S))


async def commented(conn: asyncpg.Connection, comment_id: uuid.UUID) -> uuid.UUID | None:
    """A comment was written: the post's owner hears of it (not of their own)."""
    return await conn.fetchval(q("notify_comment"), comment_id)


async def forget_pair(conn: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID) -> None:
    """A block between ``a`` and ``b``: neither keeps notifications about the other."""
    await conn.execute(q("notify_forget_pair"), a, b)


def announce(app: web.Application, recipient: uuid.UUID | None) -> None:
    """After the commit: wake ``recipient``'s streams on every instance (batched; never blocks)."""
    if recipient is None:
        return
    hub = app.get(HUB)
    if hub is not None:
        hub.announce(recipient)
