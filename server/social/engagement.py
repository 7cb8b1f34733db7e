"""What people do to a post: like, unlike, comment, delete a comment, view. One function per
action, each one atomic statement or one transaction, so work that must commit with it (issue 11's
like and comment notifications) has one place to go. Counters move by trigger (0010_social.sql),
never here.

Whether the post may be acted on is read in the same statement or transaction as the write,
through the SQL functions ``post_visible_to`` and ``post_is_public``; rules.py turns the answer
into 404 / 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from ..db import q
from ..feed import notify
from ..http import ApiError
from . import rules
from .graph import gone_error

VIEW_WINDOW_S = 24 * 3600  # one counted view per viewer and post per 24 h


@dataclass(frozen=True)
class LikeResult:
    liked: bool
    like_count: int
    changed: bool  # a like was added or removed now (not a repeat)
    notify: uuid.UUID | None = None  # who to tell after commit (feed.announce)


async def _post_for(conn: asyncpg.Connection, post_id: uuid.UUID, actor: uuid.UUID, *,
                    must_be_public: bool) -> asyncpg.Record:
    row = await conn.fetchrow(q("social_post_for"), post_id, actor)
    found = row is not None
    rules.check_post_for_engagement(found, found and row["visible"], (found and row["public"]) or not must_be_public)
    return row


async def _set_like(conn: asyncpg.Connection, post_id: uuid.UUID, actor: uuid.UUID, like: bool) -> LikeResult:
    # One statement (social_set_like in 0010_social.sql, wrapped with the like's notification by
    # feed's notify_set_like): a like is the hottest write, and every round trip counts when the
    # CPU is busy transcoding.
    try:
        row = await conn.fetchrow(q(notify.SET_LIKE), *notify.set_like_args(post_id, actor, like))
    except asyncpg.ForeignKeyViolationError as exc:
        raise gone_error(exc) from None
    rules.check_post_for_engagement(row["post_found"], row["post_visible"], row["post_public"] or not like)
    return LikeResult(liked=like, like_count=row["like_count"] or 0, changed=row["changed"], notify=row["notify"])


async def like(conn: asyncpg.Connection, post_id: uuid.UUID, actor: uuid.UUID) -> LikeResult:
    """``actor`` likes a published post it can see; idempotent. ``like_count`` is read after the
    change in the same transaction: the count including this like, whatever else is committing."""
    return await _set_like(conn, post_id, actor, True)


async def unlike(conn: asyncpg.Connection, post_id: uuid.UUID, actor: uuid.UUID) -> LikeResult:
    """Removing a like needs only that the post be visible: a post that left ``published`` keeps
    its likes, and their owners may still take them back."""
    return await _set_like(conn, post_id, actor, False)


@dataclass(frozen=True)
class CommentResult:
    row: asyncpg.Record  # the comment joined with its author's name
    notify: uuid.UUID | None  # who to tell after commit (feed.announce)


async def add_comment(conn: asyncpg.Connection, post_id: uuid.UUID, actor: uuid.UUID, body: str) -> CommentResult:
    """A new comment on a published post ``actor`` can see. One statement checks and writes; the
    post owner's notification commits with it."""
    try:
        async with conn.transaction():
            row = await conn.fetchrow(q("social_insert_comment"), uuid.uuid4(), post_id, actor, body)
            found = row is not None
            rules.check_post_for_engagement(found, found and row["post_visible"], found and row["post_public"])
            recipient = await notify.commented(conn, row["id"])
    except asyncpg.ForeignKeyViolationError as exc:
        raise gone_error(exc) from None
    return CommentResult(row, recipient)


async def delete_comment(conn: asyncpg.Connection, comment_id: uuid.UUID, actor: uuid.UUID) -> None:
    """By its author or the post's owner; the row lock makes a second concurrent delete a 404."""
    async with conn.transaction():
        row = await conn.fetchrow(q("social_comment_for_delete"), comment_id, actor)
        if row is None:
            raise ApiError(404, "comment_not_found", "no such comment")
        rules.check_comment_delete(actor, row["author_id"], row["owner_id"], row["visible"])
        await conn.execute(q("social_delete_comment"), comment_id)


async def count_view(conn: asyncpg.Connection, post_id: uuid.UUID, viewer: uuid.UUID) -> bool:
    """Counts the view unless this viewer was counted in the last 24 h or owns the post. One
    statement decides and writes, so concurrent views of one viewer count once. True if counted."""
    row = await _post_for(conn, post_id, viewer, must_be_public=True)
    if not rules.view_counts(viewer, row["owner_id"]):
        return False
    try:
        return await conn.fetchval(q("social_count_view"), post_id, viewer, float(VIEW_WINDOW_S)) is not None
    except asyncpg.ForeignKeyViolationError as exc:
        raise gone_error(exc) from None
