"""Background sweeps: expire abandoned uploads and remove the objects of deleted posts.

Plain async functions, safe to run from several instances at once: the pipeline's reaper calls
them periodically, DELETE calls the purge for one post right away, and tests call them directly.
No transaction is held across a store call (a slow store would hold a snapshot open and bloat the
job queue's SKIP LOCKED table): rows are claimed for ``CLAIM_S`` in a short transaction
(``FOR UPDATE SKIP LOCKED``), their objects are removed, then each is marked done. If the store
fails, the rows stay unmarked and their claim runs out, so nothing is marked done while its
objects remain.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any, Awaitable, Callable

import asyncpg

from ..db import q
from ..storage import ObjectStore
from ..storage.keys import post_variant_prefix

log = logging.getLogger(__name__)

SWEEP_BATCH = 100
# How long one sweeper owns a batch: its object-store calls with their timeouts and retries, with
# room to spare. Past it another sweeper takes the rows again (removing objects twice is harmless).
CLAIM_S = 300
EXPIRED_MESSAGE = "the upload was not completed before its session expired"


async def _sweep(
    pool: asyncpg.Pool, claim: str, args: tuple[Any, ...], batch: int,
    remove: Callable[[asyncpg.Record], Awaitable[None]], done: str, done_args: Callable[[asyncpg.Record], tuple[Any, ...]],
) -> int:
    """Claim up to ``batch`` rows with query ``claim``, ``remove`` each row's objects with no
    connection held, mark it with query ``done``; repeat until a short batch says the backlog is
    empty."""
    total = 0
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(q(claim), batch, *args, float(CLAIM_S))
        for row in rows:
            await remove(row)
            async with pool.acquire() as conn:
                await conn.execute(q(done), *done_args(row))
        total += len(rows)
        if len(rows) < batch:
            return total


async def expire_upload_sessions(pool: asyncpg.Pool, store: ObjectStore, *, batch: int = SWEEP_BATCH) -> int:
    """Fail posts whose upload session ran out (error ``upload_expired``) and delete any bytes that
    arrived too late to be completed. Returns the number of sessions expired."""

    async def remove(row: asyncpg.Record) -> None:
        await store.delete(row["object_key"])

    total = await _sweep(
        pool, "claim_expired_uploads", (), batch, remove,
        "expire_upload", lambda row: (row["id"], row["post_id"], EXPIRED_MESSAGE),
    )
    if total:
        log.info("expired %d upload sessions", total)
    return total


async def purge_deleted_posts(
    pool: asyncpg.Pool, store: ObjectStore, *, post_id: uuid.UUID | None = None, batch: int = SWEEP_BATCH
) -> int:
    """Delete the source and every variant of soft-deleted posts (or only ``post_id``). A post whose
    job is still running is left for a later sweep: its publisher may be writing variants now."""

    async def remove(row: asyncpg.Record) -> None:
        await store.delete(row["source_key"])
        await store.delete_prefix(post_variant_prefix(row["id"]))

    total = await _sweep(pool, "claim_posts_to_purge", (post_id,), batch, remove,
                         "mark_post_purged", lambda row: (row["id"],))
    if total:
        log.info("purged the objects of %d deleted posts", total)
    return total


def chores(pool: asyncpg.Pool, store: ObjectStore) -> tuple[Callable[[], Awaitable[int]], ...]:
    """Both sweeps as zero-argument callables, the shape of ``PipelineConfig.housekeeping``."""
    return (partial(expire_upload_sessions, pool, store), partial(purge_deleted_posts, pool, store))
