"""The durable job queue on PostgreSQL (``jobs`` table): claim with ``FOR UPDATE SKIP LOCKED`` and a
lease, heartbeat, and lease-checked final writes.

The job row is the truth; an instance only holds a lease. Every write an instance makes about a
job it is processing checks ``lease_owner = owner AND status = 'running'``: if the lease expired and
another instance claimed the job, the write changes nothing and returns False/None.

Status meanings: ``failed`` is a final verdict on the image (image_too_small, corrupt...);
``dead`` means we gave up (attempts exhausted, or a poison image that keeps breaking the pool).
Both can be replayed with ``imagepipe jobs retry``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from ..db import q


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    post_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    attempts: int
    max_attempts: int
    pool_breaks: int
    source_key: str
    content_type: str


@dataclass(frozen=True)
class RetryOutcome:
    """What a retryable failure did: the job is queued again, or dead (and its post failed)."""

    status: str  # queued | dead
    attempts: int


def _gave_up_message(attempts: int, message: str) -> str:
    return f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}: {message}"


class JobQueue:
    """Queue operations on a pool; ``owner`` names the instance holding leases."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def claim(self, n: int, owner: str, lease_s: float) -> list[ClaimedJob]:
        """Up to ``n`` claimable jobs, oldest ``run_after`` first, leased to ``owner``."""
        if n <= 0:
            return []
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_claim"), n, owner, float(lease_s))
        jobs = [ClaimedJob(**dict(r)) for r in rows]
        return sorted(jobs, key=lambda j: j.id)

    async def heartbeat(self, ids: list[int], owner: str, lease_s: float) -> set[int]:
        """Extend the leases; returns the ids still ours (a missing id was lost to another instance)."""
        if not ids:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_heartbeat"), ids, owner, float(lease_s))
        return {r["id"] for r in rows}

    async def succeed(self, conn: asyncpg.Connection, job_id: int, owner: str) -> float | None:
        """Mark succeeded inside the caller's transaction (the publisher's), lease-checked: seconds
        since the job was queued (upload/complete), or None when the lease is no longer ours."""
        return await conn.fetchval(q("jobs_mark_succeeded"), job_id, owner)

    async def fail_final(
        self, job_id: int, owner: str, code: str, message: str, *, status: str = "failed"
    ) -> bool:
        """No retry: the job ends ``failed`` (bad image) or ``dead`` (poison) and its post fails."""
        async with self.pool.acquire() as conn, conn.transaction():
            post_id = await conn.fetchval(q("jobs_mark_final"), job_id, owner, status, message, code)
            if post_id is None:
                return False
            await conn.execute(q("jobs_fail_post"), post_id, code, message)
            return True

    async def fail_retry(
        self, job_id: int, owner: str, code: str, message: str, delay_s: float
    ) -> RetryOutcome | None:
        """Retry after ``delay_s``; with no attempts left the job is dead and its post failed."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(q("jobs_mark_retry"), job_id, owner, float(delay_s), message, code)
            if row is None:
                return None
            if row["status"] == "dead":
                await conn.execute(q("jobs_fail_post"), row["post_id"], code, _gave_up_message(row["attempts"], message))
            return RetryOutcome(status=row["status"], attempts=row["attempts"])

    async def defer(self, ids: list[int], owner: str, delay_s: float, code: str, message: str) -> set[int]:
        """Back to the queue without using an attempt: the failure was ours (outage), not the job's."""
        if not ids:
            return set()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_defer"), ids, owner, float(delay_s), message, code)
        return {r["id"] for r in rows}

    async def release(self, owner: str) -> int:
        """Drain: every job ``owner`` holds goes back to the queue now. The attempt is given back: a
        job interrupted by a shutdown did nothing wrong."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_release_owner"), owner)
        return len(rows)

    async def add_pool_break(self, ids: list[int], owner: str) -> dict[int, int]:
        """Count one pool break against each job that was in flight; returns id -> pool_breaks."""
        if not ids:
            return {}
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_add_pool_break"), ids, owner)
        return {r["id"]: r["pool_breaks"] for r in rows}

    async def reap(self, dead_owner_prefix: str | None = None) -> dict[str, int]:
        """Expired leases (and, given a prefix, every lease of owners known to be dead): queued
        again, or dead if that was the last attempt; the attempt stays used, since the job may be
        what killed its instance. Counts by new status."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(q("jobs_reap_expired"), dead_owner_prefix)
            closed = await conn.fetch(q("jobs_close_deleted"))
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        if closed:
            counts["post_deleted"] = len(closed)
        return counts

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
