"""Where a post's renditions live while it is in review, and their removal.

A published post's renditions are under ``posts/`` (served by ``/media`` or the CDN); a post in
review keeps them under ``held/`` (``server.storage.keys.HELD_PREFIX``), which nothing serves
publicly: the owner and admins get them through ``GET /api/v1/posts/{id}/held/{file}``. Decisions
change the status first (one statement, ``decisions.py``) and then move the objects to the side the
status calls for; the reconcile sweep finishes any move a crash or an outage cut short, so the
status is the truth and the objects follow it.

A move copies (the store has get and put; renditions are small), repoints the ``post_images`` row
only if it still points at the old key and the post is still in the status the move was for, and
only then deletes the old object: a row never points at a deleted object.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Awaitable, Callable

import asyncpg

from actors.pipeline.config import CONTENT_TYPES, EXTENSIONS, IMMUTABLE
from ..db import q
from ..storage import ObjectNotFound, ObjectStore
from ..posts.cleanup import purge_posts
from ..storage.keys import HELD_PREFIX, VARIANT_PREFIX

log = logging.getLogger(__name__)

SWEEP_BATCH = 50
HELD_CACHE = "private, no-store"
_FORMAT_BY_EXTENSION = {ext: fmt for fmt, ext in EXTENSIONS.items()}


def other_side(key: str, *, to_held: bool) -> str | None:
    """``posts/X`` <-> ``held/X``; None when ``key`` is already where it should be. Pure."""
    source, target = (VARIANT_PREFIX, HELD_PREFIX) if to_held else (HELD_PREFIX, VARIANT_PREFIX)
    return target + key[len(source):] if key.startswith(source) else None


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(_FORMAT_BY_EXTENSION.get(key.rsplit(".", 1)[-1], ""), "application/octet-stream")


async def move_renditions(pool: asyncpg.Pool, store: ObjectStore, post_id: uuid.UUID, *, to_held: bool) -> int:
    """Move every rendition of ``post_id`` to ``held/`` (or back to ``posts/``); returns how many moved."""
    expected = "in_review" if to_held else "published"
    async with pool.acquire() as conn:
        rows = await conn.fetch(q("moderation_renditions"), post_id)
    moved = 0
    for row in rows:
        old = row["storage_key"]
        new = other_side(old, to_held=to_held)
        if new is None:
            continue
        try:
            data = await store.get(old)
        except ObjectNotFound:  # another mover copied it and deleted the old one already
            data = None
        if data is not None:
            await store.put(new, data, content_type(new), HELD_CACHE if to_held else IMMUTABLE)
        async with pool.acquire() as conn:
            done = await conn.fetchval(q("moderation_move_rendition"), post_id, row["variant"], row["format"],
                                       old, new, expected)
        if done:
            await store.delete(old)
            moved += 1
    return moved


async def purge_removed_posts(
    pool: asyncpg.Pool, store: ObjectStore, *, post_id: uuid.UUID | None = None, batch: int = SWEEP_BATCH
) -> int:
    """Delete the source and every rendition (either side) of removed posts, or only ``post_id``,
    the way deleted posts are purged (short claims, no transaction across the store's calls)."""
    total = await purge_posts(pool, store, "moderation_claim_removed_to_purge", post_id, batch)
    if total:
        log.info("purged the objects of %d removed posts", total)
    return total


async def reconcile(pool: asyncpg.Pool, store: ObjectStore, *, batch: int = SWEEP_BATCH) -> int:
    """Finish moves cut short: posts whose renditions sit on the wrong side of their status."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(q("moderation_misplaced"), batch)
    moved = 0
    for row in rows:
        moved += await move_renditions(pool, store, row["id"], to_held=row["status"] == "in_review")
    if moved:
        log.info("moved %d renditions to the side their post's status calls for", moved)
    return moved


def chores(pool: asyncpg.Pool, store: ObjectStore) -> tuple[Callable[[], Awaitable[int]], ...]:
    """The periodic sweeps, in the shape of ``PipelineConfig.housekeeping``."""
    return (partial(purge_removed_posts, pool, store), partial(reconcile, pool, store))
