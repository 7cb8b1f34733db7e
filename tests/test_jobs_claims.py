"""Claims on the real PostgreSQL: outages cost no attempt, claims are fair across accounts, succeeded
jobs are pruned after their retention, and the objects of claims that never published are swept."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from actors.pipeline import claim_prefix, variant_key
from actors.pipeline.ports import Published, StoredImage
from server.jobs import JobQueue
from server.jobs.housekeeping import prune_succeeded_jobs, sweep_unpublished_writes
from test_pipeline import store  # noqa: F401 - fixture
from test_pipeline_hooks import insert_processing_post, insert_user


async def _user_jobs(pool: asyncpg.Pool, n: int, user: uuid.UUID | None = None) -> tuple[uuid.UUID, list[int]]:
    async with pool.acquire() as conn:
        user = user or await insert_user(conn)
        return user, [(await insert_processing_post(conn, user))[1] for _ in range(n)]


async def _attempts(pool: asyncpg.Pool, job_id: int) -> tuple[str, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status::text AS s, attempts FROM jobs WHERE id = $1", job_id)
    return row["s"], row["attempts"]


async def test_a_lease_reaped_after_an_outage_gives_its_attempt_back(db_pool: asyncpg.Pool) -> None:
    _, [crashed, outage] = await _user_jobs(db_pool, 2)
    queue = JobQueue(db_pool)
    await queue.claim(1, "holder-a", 0.1)
    await asyncio.sleep(0.3)
    assert await queue.reap() == {"queued": 1}  # nobody saw an outage: the holder crashed
    assert await _attempts(db_pool, crashed) == ("queued", 1)
    [again] = await queue.claim(1, "holder-b", 0.1)
    assert again.id == crashed
    [second] = await queue.claim(1, "holder-b", 0.1)
    assert second.id == outage
    await asyncio.sleep(0.3)
    assert await queue.reap(outage=True) == {"queued": 2}  # the reaper itself lost the database
    assert await _attempts(db_pool, crashed) == ("queued", 1), "the crash still counts, the outage does not"
    assert await _attempts(db_pool, outage) == ("queued", 0)


async def test_an_outage_reap_never_kills_a_job_on_its_last_attempt(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        user = await insert_user(conn)
        _, job_id = await insert_processing_post(conn, user, max_attempts=1)
    queue = JobQueue(db_pool)
    for _ in range(3):
        await queue.claim(1, "a", 0.05)
        await asyncio.sleep(0.15)
        assert await queue.reap(outage=True) == {"queued": 1}
    assert await _attempts(db_pool, job_id) == ("queued", 0)


async def test_one_account_with_a_backlog_does_not_starve_another(db_pool: asyncpg.Pool) -> None:
    noisy, noisy_jobs = await _user_jobs(db_pool, 60)
    _, [quiet_job] = await _user_jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    first_two = {j.id for j in await queue.claim(2, "w", 30)}
    # The quiet account's job arrived last but takes the rank at the head of the queue: it is
    # claimed with the noisy account's first job, not after all sixty.
    assert first_two == {noisy_jobs[0], quiet_job}, first_two
    _, [late_job] = await _user_jobs(db_pool, 1)
    later = [j.id for j in await queue.claim(3, "w", 30)]
    assert late_job in later, "a newcomer waits for at most a few jobs of the backlog"


async def test_a_returning_account_does_not_jump_ahead_of_a_fair_share(db_pool: asyncpg.Pool) -> None:
    """Ranks follow the head of the queue (the virtual clock): an account whose jobs all ran long
    ago does not get ranks from the start again, which would let it pass everyone waiting."""
    first, _ = await _user_jobs(db_pool, 1)
    _, busy_jobs = await _user_jobs(db_pool, 20)
    queue = JobQueue(db_pool)
    await queue.claim(10, "w", 30)
    _, [again] = await _user_jobs(db_pool, 1, user=first)
    async with db_pool.acquire() as conn:
        ranks = dict(await conn.fetch("SELECT id, fair_rank FROM jobs WHERE status = 'queued'"))
    head = min(r for i, r in ranks.items() if i != again)
    assert ranks[again] == head


async def test_succeeded_jobs_past_their_retention_are_pruned_in_batches(db_pool: asyncpg.Pool) -> None:
    _, ids = await _user_jobs(db_pool, 5)
    queue = JobQueue(db_pool)
    for job in await queue.claim(5, "w", 30):
        assert (await queue.publish(job, [], 10, 10, {})).outcome is Published.PUBLISHED
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET finished_at = now() - interval '10 days' WHERE id = ANY($1::bigint[])", ids[:3])
    assert await prune_succeeded_jobs(queue, 7) == 3
    assert await prune_succeeded_jobs(queue, 7) == 0
    async with db_pool.acquire() as conn:
        assert sorted(r["id"] for r in await conn.fetch("SELECT id FROM jobs")) == ids[3:]
        assert await conn.fetchval("SELECT count(*) FROM posts WHERE status = 'published'") == 5, "posts stay"


async def test_the_claim_plan_uses_the_queued_index_however_many_jobs_finished(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        user = await insert_user(conn)
        await conn.execute(
            "INSERT INTO posts (id, user_id, status, source_key, content_type, file_size) "
            "SELECT gen_random_uuid(), $1, 'published', 'k', 'image/jpeg', 1 FROM generate_series(1, 20000)", user)
        await conn.execute(
            "INSERT INTO jobs (post_id, user_id, status, finished_at) "
            "SELECT id, user_id, 'succeeded', now() FROM posts")
        await conn.execute("ANALYZE jobs")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN " + __import__("server.db", fromlist=["q"]).q("jobs_claim"), 4, "w", 30.0))
    assert "jobs_claimable_idx" in plan, plan


async def _images(job, data: bytes) -> list[StoredImage]:  # type: ignore[no-untyped-def]
    return [StoredImage("thumbnail", "jpeg", variant_key(job.post_id, job.claim, "thumbnail", "jpeg"), 1, 1, len(data), 80)]


async def test_a_fenced_claim_never_touches_published_bytes_and_its_own_are_swept(db_pool: asyncpg.Pool, store) -> None:  # type: ignore[no-untyped-def]
    _, [job_id] = await _user_jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [zombie] = await queue.claim(1, "paused", 0.1)
    await queue.record_writes(zombie)
    await asyncio.sleep(0.3)
    await queue.reap()
    [current] = await queue.claim(1, "alive", 30)
    await queue.record_writes(current)
    await store.put(variant_key(current.post_id, current.claim, "thumbnail", "jpeg"), b"current", "image/jpeg")
    assert (await queue.publish(current, await _images(current, b"current"), 1, 1, {})).outcome is Published.PUBLISHED
    # The paused holder resumes and writes its (different) bytes: other keys, never the published ones.
    await store.put(variant_key(zombie.post_id, zombie.claim, "thumbnail", "jpeg"), b"zombie!", "image/jpeg")
    assert (await queue.publish(zombie, await _images(zombie, b"zombie!"), 1, 1, {})).outcome is Published.LOST
    async with db_pool.acquire() as conn:
        [key] = [r["storage_key"] for r in await conn.fetch("SELECT storage_key FROM post_images")]
    assert await store.get(key) == b"current"

    assert await sweep_unpublished_writes(queue, store, older_than_s=0) == 1
    assert await store.head(variant_key(zombie.post_id, zombie.claim, "thumbnail", "jpeg")) is None
    assert await store.get(key) == b"current", "the sweep leaves published objects alone"
    assert await sweep_unpublished_writes(queue, store, older_than_s=0) == 0


async def test_the_current_claims_writes_are_never_swept(db_pool: asyncpg.Pool, store) -> None:  # type: ignore[no-untyped-def]
    await _user_jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "alive", 30)
    await queue.record_writes(job)
    await store.put(variant_key(job.post_id, job.claim, "medium", "jpeg"), b"in progress", "image/jpeg")
    assert await sweep_unpublished_writes(queue, store, older_than_s=0) == 0
    assert await store.get(variant_key(job.post_id, job.claim, "medium", "jpeg")) == b"in progress"


async def test_a_post_deleted_during_its_transcode_is_never_published(db_pool: asyncpg.Pool) -> None:
    _, [job_id] = await _user_jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "alive", 30)
    async with db_pool.acquire() as conn:
        await conn.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", job.post_id)
    assert (await queue.publish(job, await _images(job, b"x"), 1, 1, {})).outcome is Published.POST_DELETED
    async with db_pool.acquire() as conn:
        post = await conn.fetchrow("SELECT status::text AS s, published_at FROM posts WHERE id = $1", job.post_id)
        images = await conn.fetchval("SELECT count(*) FROM post_images")
    assert (post["s"], post["published_at"], images) == ("processing", None, 0)
    assert await _attempts(db_pool, job_id) == ("failed", 1)
    assert claim_prefix(job.post_id, job.claim).startswith(f"posts/{job.post_id}/")


async def test_at_the_head_rank_a_quiet_accounts_job_goes_before_the_busy_ones_of_that_rank(db_pool: asyncpg.Pool) -> None:
    _, noisy_jobs = await _user_jobs(db_pool, 10)
    queue = JobQueue(db_pool)
    await queue.claim(4, "w", 30)  # the busy account's first jobs run; its next one heads the queue
    _, [quiet_job] = await _user_jobs(db_pool, 1)
    [next_claim] = await queue.claim(1, "w", 30)
    assert next_claim.id == quiet_job, "not the busy account's job of the same rank, queued earlier"
