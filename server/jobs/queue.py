"""The durable job queue on PostgreSQL (``jobs`` table): claim with ``FOR UPDATE SKIP LOCKED`` and a
lease, heartbeat, and claim-fenced final writes. Implements the pipeline's ``JobQueuePort``.

The job row is the truth; an instance only holds a lease. Every claim gets a fresh number
(``jobs.claim``) and every write about a job names the claim it holds: if the lease expired and the
job was claimed again (by another instance, or by this process after its own reaper took it back),
the write changes nothing and returns False/None.

Status meanings: ``failed`` is a final verdict on the image (image_too_small, corrupt...);
``dead`` means we gave up (attempts exhausted, or a poison image that keeps breaking the pool).
Both can be replayed with ``imagepipe jobs retry``.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.pipeline.ports import ClaimedJob, Published, PublishOutcome, RetryOutcome, StoredImage

from ..db import q


def _gave_up_message(attempts: int, message: str) -> str:
    return f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}: {message}"


def _fences(jobs: list[ClaimedJob]) -> tuple[list[int], list[int]]:
    return [j.id for j in jobs], [j.claim for j in jobs]


class JobQueue:
    """Queue operations on a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def claim(self, n: int, owner: str, lease_s: float) -> list[ClaimedJob]:
        """Up to ``n`` claimable jobs, lowest fair rank then oldest first, leased to ``owner``."""
        if n <= 0:
            return []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_claim"), n, owner, float(lease_s))
        return sorted((ClaimedJob(**dict(r)) for r in rows), key=lambda j: j.id)

    async def heartbeat(self, jobs: list[ClaimedJob], lease_s: float) -> set[int]:
        """Extend the leases; returns the ids still ours (a missing id was claimed again since)."""
        if not jobs:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_heartbeat"), *_fences(jobs), float(lease_s))
        return {r["id"] for r in rows}

    async def succeed(self, job: ClaimedJob) -> bool:
        """Fenced success of a job with nothing to publish (a transcode publishes through
        ``publish``, in the same transaction); False when the claim is no longer current."""
        async with self.pool.acquire() as conn:
            return await conn.fetchval(q("jobs_mark_succeeded"), job.id, job.claim) is not None

    async def fail_final(self, job: ClaimedJob, code: str, message: str, *, status: str = "failed") -> bool:
        """No retry: the job ends ``failed`` (bad image) or ``dead`` (poison) and its post fails."""
        async with self.pool.acquire() as conn, conn.transaction():
            post_id = await conn.fetchval(q("jobs_mark_final"), job.id, job.claim, status, message, code)
            if post_id is None:
                return False
            await conn.execute(q("jobs_fail_post"), post_id, code, message)
            return True

    async def fail_retry(self, job: ClaimedJob, code: str, message: str, delay_s: float) -> RetryOutcome | None:
        """Retry after ``delay_s``; with no attempts left the job is dead and its post failed."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(q("jobs_mark_retry"), job.id, job.claim, float(delay_s), message, code)
            if row is None:
                return None
            if row["status"] == "dead":
                await conn.execute(q("jobs_fail_post"), row["post_id"], code, _gave_up_message(row["attempts"], message))
            return RetryOutcome(status=row["status"], attempts=row["attempts"])

    async def defer(self, jobs: list[ClaimedJob], delay_s: float, code: str, message: str) -> set[int]:
        """Back to the queue without using an attempt: the failure was ours (outage), not the job's."""
        if not jobs:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_defer"), *_fences(jobs), float(delay_s), message, code)
        return {r["id"] for r in rows}

    async def release(self, owner: str) -> int:
        """Drain: every job ``owner`` holds goes back to the queue now. The attempt is given back: a
        job interrupted by a shutdown did nothing wrong."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_release_owner"), owner)
        return len(rows)

    async def add_pool_break(self, jobs: list[ClaimedJob]) -> dict[int, int]:
        """Count one pool break against each job that was in flight; returns id -> pool_breaks."""
        if not jobs:
            return {}
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_add_pool_break"), *_fences(jobs))
        return {r["id"]: r["pool_breaks"] for r in rows}

    async def reap(self, dead_owner_prefix: str | None = None, *, outage: bool = False) -> dict[str, int]:
        """Expired leases (and, given a prefix, every lease of owners known to be dead): queued
        again, or dead if that was the last attempt. The attempt stays used (the job may be what
        killed its holder) unless ``outage``: the reaper itself could not reach the database just
        now, so the leases most likely ran out because nobody could renew them. Counts by status."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_reap_expired"), dead_owner_prefix, outage)
            closed = await conn.fetch(q("jobs_close_deleted"))
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        if closed:
            counts["post_deleted"] = len(closed)
        return counts

    async def record_writes(self, job: ClaimedJob) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(q("pipeline_record_writes"), job.claim, job.post_id)

    async def forget_writes(self, job: ClaimedJob) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(q("pipeline_forget_writes"), job.claim)

    async def publish(
        self, job: ClaimedJob, images: list[StoredImage], width: int, height: int, metadata: dict[str, Any]
    ) -> PublishOutcome:
        """One transaction: the job succeeds (fenced), the post's image rows point at this claim's
        objects, and the post is published; or, if the post was deleted meanwhile, the job is
        closed and nothing is shown."""
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetchval(q("pipeline_lock_post"), job.post_id)
            if deleted:
                closed = await conn.fetchval(
                    q("jobs_mark_final"), job.id, job.claim, "failed", "the post was deleted", "post_deleted"
                )
                return PublishOutcome(Published.POST_DELETED if closed is not None else Published.LOST)
            queued_for_s = await conn.fetchval(q("jobs_mark_succeeded"), job.id, job.claim)
            if queued_for_s is None:
                return PublishOutcome(Published.LOST)
            for image in images:
                await conn.execute(
                    q("pipeline_insert_image"), job.post_id, image.variant, image.format, image.key,
                    image.width, image.height, image.bytes, image.quality,
                )
            await conn.execute(q("pipeline_publish_post"), job.post_id, width, height, metadata)
            await conn.execute(q("pipeline_forget_writes"), job.claim)  # published: nothing to sweep
            return PublishOutcome(Published.PUBLISHED, queued_for_s)

    async def prune_succeeded(self, retention_days: float, batch: int) -> int:
        """Delete one batch of succeeded jobs past their retention; the number deleted."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(q("jobs_prune_succeeded"), float(retention_days), batch)
        return int(status.split()[-1])

    async def counts(self) -> dict[str, int]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_counts"))
        return {r["status"]: r["n"] for r in rows}

    async def depth(self) -> int:
        """Jobs not finished yet (queued or running): the backlog."""
        async with self.pool.acquire() as conn:
            return await conn.fetchval(q("jobs_queue_depth"))

    async def list(self, status: str | None = None, limit: int = 50) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(q("jobs_list"), status, limit)

    async def retry(self, ids: list[int]) -> list[int]:
        """Operator replay of dead/failed jobs: fresh attempts, post back to processing."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(q("jobs_retry"), ids)
        return [r["id"] for r in rows]

    async def retry_dead(self) -> list[int]:
        async with self.pool.acquire() as conn, conn.transaction():
            ids = [r["id"] for r in await conn.fetch(q("jobs_dead_ids"))]
            return [r["id"] for r in await conn.fetch(q("jobs_retry"), ids)] if ids else []

    async def get(self, job_id: int) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(q("jobs_get"), job_id)
