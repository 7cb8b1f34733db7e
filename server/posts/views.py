"""Reading and deleting posts: one post, a user's posts page by page, soft delete by the owner.

Visibility: a post is readable by id in any status (the id is an unguessable UUID and the owner's
app polls it while processing); a user's *list* shows only published posts to others and everything
to the owner, so drafts and failures are never enumerable. Across a block (server/social) neither
side sees the other's posts: the SQL function ``post_visible_to`` decides, in the queries.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from .. import appkeys, moderation
from ..auth import current_user_id
from ..db import q
from ..http import ApiError
from .cleanup import purge_deleted_posts
from .cursor import decode_cursor, encode_cursor
from .serialize import post_json
from .validation import parse_limit, parse_uuid

log = logging.getLogger(__name__)

ALL_STATUSES = ["pending_upload", "processing", "published", "failed", "in_review", "removed"]
PUBLIC_STATUSES = ["published"]

# Purges started by DELETE; kept referenced so they are not collected, awaited at shutdown.
BACKGROUND = web.AppKey("posts_background_tasks", set)


async def _serialize(
    conn: asyncpg.Connection, app: web.Application, posts: list[asyncpg.Record]
) -> list[dict[str, Any]]:
    images: dict[uuid.UUID, list[asyncpg.Record]] = {}
    if posts:
        for image in await conn.fetch(q("post_images_for"), [p["id"] for p in posts]):
            images.setdefault(image["post_id"], []).append(image)
    url_for = moderation.url_for(app)  # renditions held for review go through a private route
    return [post_json(p, images.get(p["id"], []), url_for) for p in posts]


async def get_post(request: web.Request) -> web.Response:
    post_id = parse_uuid(request.match_info["post_id"])
    viewer = await _viewer(request)
    async with request.app[appkeys.DB].acquire() as conn:
        post = await conn.fetchrow(q("get_post"), post_id, viewer)
        if post is None:
            raise ApiError(404, "post_not_found", "no such post")
        who = await moderation.reader(request, conn)
        (body,) = await _serialize(conn, request.app, [post])
        await moderation.annotate(conn, [body], who)
    return web.json_response(body)


async def _viewer(request: web.Request) -> uuid.UUID | None:
    """The caller if a token is sent (a bad one is a 401, not silently anonymous), else None."""
    if "Authorization" not in request.headers:
        return None
    return await current_user_id(request)


async def list_user_posts(request: web.Request) -> web.Response:
    user_id = parse_uuid(request.match_info["user_id"])
    limit = parse_limit(request.query.get("limit"))
    raw_cursor = request.query.get("cursor")
    after_at, after_id = decode_cursor(raw_cursor) if raw_cursor else (None, None)
    viewer = await _viewer(request)
    statuses = ALL_STATUSES if viewer == user_id else PUBLIC_STATUSES
    async with request.app[appkeys.DB].acquire() as conn:
        # One row more than asked tells whether another page exists without a count.
        rows = await conn.fetch(q("list_user_posts"), user_id, statuses, after_at, after_id, limit + 1, viewer)
        if not rows and not await conn.fetchval(q("user_exists"), user_id, viewer):
            raise ApiError(404, "user_not_found", "no such user")
        page = rows[:limit]
        items = await _serialize(conn, request.app, page)
        if viewer == user_id:
            await moderation.annotate(conn, items, moderation.Viewer(viewer, False))
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    return web.json_response({"items": items, "next_cursor": next_cursor})


async def _purge(app: web.Application, post_id: uuid.UUID | None) -> None:
    try:
        await purge_deleted_posts(app[appkeys.DB], app[appkeys.STORE], post_id=post_id)
    except Exception:  # the periodic sweep retries; a failed purge must not surface anywhere else
        log.warning("purge of deleted post(s) %s failed; the reaper will retry", post_id or "", exc_info=True)


def purge_soon(app: web.Application, post_id: uuid.UUID | None = None) -> None:
    """Start removing the objects of deleted post ``post_id`` (None: of every deleted post, e.g.
    after an account deletion) in the background, without waiting for the periodic sweep."""
    tasks = app[BACKGROUND]
    task = asyncio.get_running_loop().create_task(_purge(app, post_id))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def delete_post(request: web.Request) -> web.Response:
    user_id = await current_user_id(request)
    post_id = parse_uuid(request.match_info["post_id"])
    async with request.app[appkeys.DB].acquire() as conn:
        async with conn.transaction():
            owner = await conn.fetchval(q("post_owner"), post_id)
            if owner is None:
                raise ApiError(404, "post_not_found", "no such post")
            if owner != user_id:
                raise ApiError(403, "forbidden", "only the author may delete a post")
            await conn.execute(q("soft_delete_post"), post_id)
            await conn.execute(q("cancel_queued_jobs"), post_id)
    purge_soon(request.app, post_id)
    return web.Response(status=204)


async def drain_background(app: web.Application) -> None:
    """on_shutdown: let started purges finish while the pool and store are still open."""
    pending = list(app[BACKGROUND])
    if pending:
        _, late = await asyncio.wait(pending, timeout=10)
        for task in late:  # the periodic sweep finishes what is cut short here
            task.cancel()
