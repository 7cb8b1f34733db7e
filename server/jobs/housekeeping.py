"""The queue's own chores, run by the pipeline's reaper: sweep the objects of claims that never
published, and delete succeeded jobs past their retention. Safe on several instances at once."""

from __future__ import annotations

import logging

from actors.pipeline import claim_prefix

from ..db import q
from .queue import JobQueue

log = logging.getLogger(__name__)

SWEEP_BATCH = 100
PRUNE_BATCH = 500
# Batches per chore run: a backlog (say, retention turned on over a year of jobs) drains over many
# reaper ticks instead of in one long burst of deletes.
PRUNE_BATCHES_PER_RUN = 10


async def sweep_unpublished_writes(queue: JobQueue, store, older_than_s: float) -> int:  # type: ignore[no-untyped-def]
    """Remove the objects of claims that wrote variants and then lost their job (fenced out,
    crashed, post deleted); each row is dropped only after its objects are gone. Such a claim can
    never become current again, so no lock is needed: two sweepers at once remove the same
    objects twice, harmlessly, and no transaction stays open across the store's calls."""
    total = 0
    while True:
        async with queue.pool.acquire() as conn:
            rows = await conn.fetch(q("pipeline_writes_to_sweep"), float(older_than_s), SWEEP_BATCH)
        for row in rows:
            await store.delete_prefix(claim_prefix(row["post_id"], row["claim"]))
            async with queue.pool.acquire() as conn:
                await conn.execute(q("pipeline_forget_writes"), row["claim"])
        total += len(rows)
        if len(rows) < SWEEP_BATCH:
            break
    if total:
        log.info("removed the unpublished variants of %d superseded claims", total)
    return total


async def prune_succeeded_jobs(queue: JobQueue, retention_days: float) -> int:
    total = 0
    for _ in range(PRUNE_BATCHES_PER_RUN):
        deleted = await queue.prune_succeeded(retention_days, PRUNE_BATCH)
        total += deleted
        if deleted < PRUNE_BATCH:
            break
    if total:
        log.info("deleted %d succeeded jobs older than %g days", total, retention_days)
    return total
