"""Background sweeps: expire abandoned uploads and remove the objects of deleted posts.

Plain async functions, safe to run from several instances at once (rows are claimed with
``FOR UPDATE SKIP LOCKED``): the pipeline's reaper calls them periodically, DELETE calls the purge
for one post right away, and tests call them directly. Objects are removed *inside* the claiming
transaction: if the store fails, the rows roll back and the next sweep tries again, so nothing is
marked done while its objects remain.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any, Awaitable, Callable

import asyncpg

from ..db import q
from ..storage import ObjectStore
from ..storage.keys import held_variant_prefix, post_variant_prefix

log = logging.getLogger(__name__)

SWEEP_BATCH = 100
EXPIRED_MESSAGE = "the upload was not completed before its session expired"


async def _sweep(
    pool: asyncpg.Pool, claim: str, args: tuple[Any, ...], batch: int,
    handle: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]],
) -> int:
    """Claim up to ``batch`` rows with query ``claim``, ``handle`` each inside the same transaction,
    and repeat until a short batch says the backlog is empty."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            async with conn.transaction():
                rows = await conn.fetch(q(claim), batch, *args)
                for row in rows:
                    await handle(conn, row)
        total += len(rows)
        if len(rows) < batch:
            return total


async def expire_upload_sessions(pool: asyncpg.Pool, store: ObjectStore, *, batch: int = SWEEP_BATCH) -> int:
    """Fail posts whose upload session ran out (error ``upload_expired``) and delete any bytes that
    arrived too late to be completed. Returns the number of sessions expired."""

    async def expire(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        await store.delete(row["object_key"])
        await conn.execute(q("expire_upload"), row["id"], row["post_id"], EXPIRED_MESSAGE)

    total = await _sweep(pool, "lock_expired_uploads", (), batch, expire)
    if total:
        log.info("expired %d upload sessions", total)
    return total


async def purge_deleted_posts(
    pool: asyncpg.Pool, store: ObjectStore, *, post_id: uuid.UUID | None = None, batch: int = SWEEP_BATCH
) -> int:
    """Delete the source and every variant of soft-deleted posts (or only ``post_id``). A post whose
    job is still running is left for a later sweep: its publisher may be writing variants now."""

    async def purge(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
        await store.delete(row["source_key"])
        await store.delete_prefix(post_variant_prefix(row["id"]))
        await store.delete_prefix(held_variant_prefix(row["id"]))  # a post deleted while in review
        await conn.execute(q("mark_post_purged"), row["id"])

    total = await _sweep(pool, "lock_posts_to_purge", (post_id,), batch, purge)
    if total:
        log.info("purged the objects of %d deleted posts", total)
    return total


def chores(pool: asyncpg.Pool, store: ObjectStore) -> tuple[Callable[[], Awaitable[int]], ...]:
    """Both sweeps as zero-argument callables, the shape of ``PipelineConfig.housekeeping``."""
    return (partial(expire_upload_sessions, pool, store), partial(purge_deleted_posts, pool, store))
