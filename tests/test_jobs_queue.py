"""The durable queue against the real PostgreSQL: SKIP LOCKED claims, attempts counted at claim,
lease expiry and reclaim, lease-checked writes, retries to dead, drain release, LISTEN wake-ups."""

from __future__ import annotations

import asyncio

import asyncpg

from server.db import create_pool
from actors.pipeline.ports import Published
from server.jobs import JobListener, JobQueue
from test_pipeline_hooks import insert_processing_post, insert_user


async def _jobs(pool: asyncpg.Pool, n: int, **kw) -> list[int]:
    async with pool.acquire() as conn:
        user = await insert_user(conn)
        return [(await insert_processing_post(conn, user, **kw))[1] for _ in range(n)]


async def _row(pool: asyncpg.Pool, job_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT j.*, j.status::text AS st, p.status::text AS post_status, p.error, p.error_message "
            "FROM jobs j JOIN posts p ON p.id = j.post_id WHERE j.id = $1",
            job_id,
        )


async def test_claim_counts_attempts_orders_and_skips_future(db_pool: asyncpg.Pool) -> None:
    ids = await _jobs(db_pool, 3)
    later = await _jobs(db_pool, 1, run_after_s=3600)
    queue = JobQueue(db_pool)
    claimed = await queue.claim(10, "a", 30)
    assert [j.id for j in claimed] == ids  # the future job is not due
    assert all(j.attempts == 1 and j.source_key.endswith("/source") for j in claimed)
    assert await queue.claim(10, "b", 30) == []
    row = await _row(db_pool, ids[0])
    assert row["st"] == "running" and row["lease_owner"] == "a" and row["lease_expires_at"] is not None
    assert (await _row(db_pool, later[0]))["st"] == "queued"


async def test_claim_takes_only_n(db_pool: asyncpg.Pool) -> None:
    await _jobs(db_pool, 5)
    queue = JobQueue(db_pool)
    assert len(await queue.claim(2, "a", 30)) == 2
    assert len(await queue.claim(0, "a", 30)) == 0
    assert len(await queue.claim(10, "b", 30)) == 3


async def test_skip_locked_passes_over_a_row_locked_elsewhere(db_pool: asyncpg.Pool, db_dsn: str) -> None:
    ids = await _jobs(db_pool, 2)
    other = await asyncpg.connect(db_dsn)
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("SELECT id FROM jobs WHERE id = $1 FOR UPDATE", ids[0])
        claimed = await asyncio.wait_for(JobQueue(db_pool).claim(5, "a", 30), 5)
        assert [j.id for j in claimed] == [ids[1]]  # no waiting on the lock, no double claim
        await tx.rollback()
    finally:
        await other.close()


async def test_two_connections_claiming_together_never_share_a_job(db_pool: asyncpg.Pool, db_dsn: str) -> None:
    ids = await _jobs(db_pool, 40)
    second = await create_pool(db_dsn, min_size=1, max_size=2)
    try:
        got: dict[str, list[int]] = {"a": [], "b": []}

        async def drain(pool: asyncpg.Pool, owner: str) -> None:
            queue = JobQueue(pool)
            while batch := await queue.claim(3, owner, 30):
                got[owner] += [j.id for j in batch]
                await asyncio.sleep(0)

        await asyncio.gather(drain(db_pool, "a"), drain(second, "b"))
    finally:
        await second.close()
    assert sorted(got["a"] + got["b"]) == ids
    assert not set(got["a"]) & set(got["b"])
    assert got["a"] and got["b"]


async def _publish(queue: JobQueue, job) -> Published:  # type: ignore[no-untyped-def]
    return (await queue.publish(job, [], 10, 10, {})).outcome


async def test_expired_lease_is_reaped_and_the_old_claim_can_no_longer_write(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "crashed", 0.2)
    assert await queue.reap() == {}  # not expired yet
    await asyncio.sleep(0.4)
    assert await queue.reap() == {"queued": 1}
    [again] = await queue.claim(1, "alive", 30)
    assert again.id == job.id and again.attempts == 2  # the crashed attempt counts
    assert again.claim > job.claim

    # The crashed instance wakes up: every write it tries is refused.
    assert await queue.heartbeat([job], 30) == set()
    assert await _publish(queue, job) is Published.LOST
    assert not await queue.fail_final(job, "image_corrupt", "nope")
    assert await queue.fail_retry(job, "x", "y", 0) is None
    assert await queue.defer([job], 0, "x", "y") == set()
    assert await queue.add_pool_break([job]) == {}
    assert (await _row(db_pool, job_id))["lease_owner"] == "alive"

    assert await queue.heartbeat([again], 30) == {job_id}
    published = await queue.publish(again, [], 10, 10, {})
    assert published.outcome is Published.PUBLISHED
    assert published.queued_for_s is not None and 0.4 < published.queued_for_s < 60  # the sleep above is in it
    row = await _row(db_pool, job_id)
    assert row["st"] == "succeeded" and row["lease_owner"] is None and row["finished_at"] is not None


async def test_a_claim_taken_again_by_the_same_owner_fences_out_the_old_one(db_pool: asyncpg.Pool) -> None:
    """Owner names are not enough: after an outage longer than the lease, the same process can
    reclaim its own job, and the result of its first, stale claim must not count."""
    [job_id] = await _jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [first] = await queue.claim(1, "same", 0.1)
    await asyncio.sleep(0.3)
    await queue.reap(outage=True)
    [second] = await queue.claim(1, "same", 30)
    assert await _publish(queue, first) is Published.LOST
    assert not await queue.fail_final(first, "image_corrupt", "stale verdict")
    assert (await _row(db_pool, job_id))["st"] == "running"
    assert await _publish(queue, second) is Published.PUBLISHED


async def test_heartbeat_keeps_a_lease_alive(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "a", 0.3)
    for _ in range(3):
        await asyncio.sleep(0.15)
        assert await queue.heartbeat([job], 0.3) == {job_id}
    assert await queue.reap() == {}


async def test_retries_until_dead_then_the_post_fails_with_a_reason(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1, max_attempts=3)
    queue = JobQueue(db_pool)
    for attempt in (1, 2):
        [job] = await queue.claim(1, "a", 30)
        assert job.attempts == attempt
        outcome = await queue.fail_retry(job, "store_unavailable", "S3 said 503", 0)
        assert outcome is not None and outcome.status == "queued"
        assert (await _row(db_pool, job_id))["post_status"] == "processing"
    [job] = await queue.claim(1, "a", 30)
    outcome = await queue.fail_retry(job, "store_unavailable", "S3 said 503", 0)
    assert outcome is not None and outcome.status == "dead" and outcome.attempts == 3
    row = await _row(db_pool, job_id)
    assert row["st"] == "dead" and row["last_error_code"] == "store_unavailable"
    assert row["post_status"] == "failed" and row["error"] == "store_unavailable"
    assert row["error_message"] == "gave up after 3 attempts: S3 said 503"
    assert await queue.claim(1, "a", 30) == []


async def test_retry_waits_for_its_backoff(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "a", 30)
    await queue.fail_retry(job, "x", "y", 3600)
    assert await queue.claim(1, "a", 30) == []


async def test_final_error_fails_job_and_post_at_once(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1)
    queue = JobQueue(db_pool)
    [job] = await queue.claim(1, "a", 30)
    assert await queue.fail_final(job, "image_too_small", "the image is 100x68; at least 150 px needed")
    row = await _row(db_pool, job_id)
    assert (row["st"], row["attempts"], row["post_status"], row["error"]) == ("failed", 1, "failed", "image_too_small")
    assert "150 px" in row["error_message"]


async def test_release_on_drain_gives_the_attempt_back(db_pool: asyncpg.Pool) -> None:
    ids = await _jobs(db_pool, 3)
    queue = JobQueue(db_pool)
    await queue.claim(2, "draining", 30)
    await queue.claim(1, "other", 30)
    assert await queue.release("draining") == 2
    rows = [await _row(db_pool, i) for i in ids]
    assert [(r["st"], r["attempts"], r["lease_owner"]) for r in rows] == [
        ("queued", 0, None), ("queued", 0, None), ("running", 1, "other"),
    ]


async def test_defer_does_not_burn_an_attempt(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1, max_attempts=1)
    queue = JobQueue(db_pool)
    for _ in range(3):  # an outage longer than max_attempts never kills the job
        [job] = await queue.claim(1, "a", 30)
        assert job.attempts == 1
        assert await queue.defer([job], 0, "db_unavailable", "connection refused") == {job_id}
    row = await _row(db_pool, job_id)
    assert row["st"] == "queued" and row["post_status"] == "processing"


async def test_reaping_the_last_attempt_makes_it_dead(db_pool: asyncpg.Pool) -> None:
    [job_id] = await _jobs(db_pool, 1, max_attempts=1)
    queue = JobQueue(db_pool)
    await queue.claim(1, "crashed", 0.1)
    await asyncio.sleep(0.3)
    assert await queue.reap() == {"dead": 1}
    row = await _row(db_pool, job_id)
    assert row["st"] == "dead" and row["post_status"] == "failed" and row["error"] == "lease_expired"
    assert "gave up after 1 attempt" in row["error_message"]


async def test_pool_breaks_are_counted_per_job(db_pool: asyncpg.Pool) -> None:
    ids = await _jobs(db_pool, 2)
    queue = JobQueue(db_pool)
    claims = await queue.claim(2, "a", 30)
    assert await queue.add_pool_break(claims) == {ids[0]: 1, ids[1]: 1}
    assert await queue.add_pool_break(claims[:1]) == {ids[0]: 2}
    assert await queue.fail_final(claims[0], "poison_image", "broke the pool", status="dead")
    assert (await _row(db_pool, ids[0]))["st"] == "dead"


async def test_operator_retry_reopens_dead_and_failed_only(db_pool: asyncpg.Pool) -> None:
    ids = await _jobs(db_pool, 3)
    queue = JobQueue(db_pool)
    claims = await queue.claim(3, "a", 30)
    await queue.fail_final(claims[0], "poison_image", "x", status="dead")
    await queue.fail_final(claims[1], "image_corrupt", "y")
    assert await queue.retry([ids[2]]) == []  # running: not ours to replay
    assert await queue.retry_dead() == [ids[0]]
    assert await queue.retry([ids[1]]) == [ids[1]]
    for job_id in ids[:2]:
        row = await _row(db_pool, job_id)
        assert (row["st"], row["attempts"], row["pool_breaks"], row["post_status"], row["error"]) == (
            "queued", 0, 0, "processing", None,
        )


async def test_listener_wakes_on_a_new_job(db_pool: asyncpg.Pool) -> None:
    listener = JobListener(db_pool)
    listener.start()
    try:
        for _ in range(50):
            if listener.connected:
                break
            await asyncio.sleep(0.05)
        assert listener.connected
        await listener.wait(0.01)  # swallow the wake-up given on connect
        assert not await listener.wait(0.2)
        waiter = asyncio.create_task(listener.wait(5))
        await asyncio.sleep(0.05)
        await _jobs(db_pool, 1)
        assert await asyncio.wait_for(waiter, 5)
    finally:
        await listener.stop()


async def test_a_restarted_instance_takes_back_its_previous_lives_leases_at_once(db_pool: asyncpg.Pool) -> None:
    ids = await _jobs(db_pool, 3)
    queue = JobQueue(db_pool)
    await queue.claim(2, "host/inst-1/111:aa", 3600)
    await queue.claim(1, "host/inst-2/222:bb", 3600)
    assert await queue.reap("host/inst-1/") == {"queued": 2}
    rows = [await _row(db_pool, i) for i in ids]
    assert [(r["st"], r["attempts"]) for r in rows] == [("queued", 1), ("queued", 1), ("running", 1)]


async def test_a_deleted_posts_job_is_never_claimed_and_the_reaper_closes_it(db_pool: asyncpg.Pool) -> None:
    """A job queued again after its post was deleted (say its lease expired) must not run: the purge
    may be done, and a transcode now would publish the deleted photo again."""
    keep, deleted = await _jobs(db_pool, 2)
    async with db_pool.acquire() as conn:
        await conn.execute(
            "UPDATE posts SET deleted_at = now() WHERE id = (SELECT post_id FROM jobs WHERE id = $1)", deleted)
    queue = JobQueue(db_pool)
    assert [j.id for j in await queue.claim(10, "alive", 30)] == [keep]
    assert (await _row(db_pool, deleted))["st"] == "queued"
    assert await queue.reap() == {"post_deleted": 1}
    row = await _row(db_pool, deleted)
    assert (row["st"], row["last_error_code"]) == ("failed", "post_deleted")
    assert await queue.reap() == {}
