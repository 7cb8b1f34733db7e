"""The pipeline in-process on the real database, the real local store and real libvips: posts get
published with their variants, bad images fail with a reason, killed workers, poison and hanging
images are survived, the pool is recycled, and a drain hands unfinished jobs back."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import AsyncIterator

import asyncpg
import psutil
import pytest

from actors.pipeline import Pipeline, PipelineConfig
from actors.transcode import TranscodeOptions, transcode, worker_init
from conftest import corpus_file
from server.config import Settings
from server.jobs import JobListener, JobQueue
from server.readiness import Readiness
from server.storage import ObjectNotFound, StoreUnavailable, create_store
from test_pipeline_hooks import (
    FAIL_INIT_FLAG_ENV, POISON_MARKER, SLOW_MARKER, init_failing_while_flagged, insert_processing_post, insert_user, make_small_jpeg, poison_transcode,
    post_states, sleepy_transcode, slow_transcode, wait_until,
)


@pytest.fixture(scope="session")
def small_jpeg() -> bytes:
    return make_small_jpeg(corpus_file("phone-3264x2448.jpg"))


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[object]:
    store = create_store(settings, "k" * 32)
    await store.open()
    yield store
    await store.close()


def make_pipeline(pool: asyncpg.Pool, store, cfg: PipelineConfig, **kw) -> Pipeline:  # type: ignore[no-untyped-def]
    """The pipeline on the PostgreSQL queue, as ``server.pipeline_ctx`` builds it."""
    return Pipeline(JobQueue(pool), JobListener(pool), store, cfg, **kw)


def config(**overrides: object) -> PipelineConfig:
    values: dict[str, object] = dict(
        workers=2, transcode=transcode, transcode_options=TranscodeOptions(), worker_init=worker_init,
        lease_s=5.0, poll_interval_s=0.5, drain_timeout_s=10.0, retry_base_s=0.2, retry_cap_s=1.0,
        not_found_errors=(ObjectNotFound,), store_errors=(StoreUnavailable,),
    )
    values.update(overrides)
    return PipelineConfig(**values)  # type: ignore[arg-type]


async def add_posts(pool: asyncpg.Pool, store, sources: list[bytes], **kw) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    posts = []
    async with pool.acquire() as conn:
        user = await insert_user(conn)
        for data in sources:
            post_id, _ = await insert_processing_post(conn, user, **kw)
            await store.put(f"uploads/{user}/{post_id}/source", data, "image/jpeg")
            posts.append(post_id)
    return posts


async def all_settled(pool: asyncpg.Pool) -> bool:
    return "processing" not in await post_states(pool)


async def run_until_settled(pool: asyncpg.Pool, store, cfg: PipelineConfig, timeout: float = 90) -> Pipeline:  # type: ignore[no-untyped-def]
    """Start a pipeline, wait until no post is processing, drain it; the pipeline for its metrics."""
    pipeline = make_pipeline(pool, store, cfg)
    await pipeline.start()
    try:
        await wait_until(lambda: all_settled(pool), timeout)
    finally:
        await pipeline.close()
    return pipeline


async def variants(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT post_id, variant, format, storage_key, width, height, bytes FROM post_images")


async def test_posts_are_published_with_every_variant(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    posts = await add_posts(db_pool, store, [small_jpeg] * 4)
    readiness = Readiness()
    readiness.clear("starting")
    pipeline = make_pipeline(db_pool, store, config(), readiness=lambda r, b: readiness.block(r) if b else readiness.clear(r))
    await pipeline.start()
    try:
        assert readiness.ready
        await wait_until(lambda: all_settled(db_pool), 90)
    finally:
        report = await pipeline.close()
    assert report.finished and report.released == 0
    assert await post_states(db_pool) == {"published": 4}
    rows = await variants(db_pool)
    assert len(rows) == 12 and {r["variant"] for r in rows} == {"thumbnail", "medium", "original"}
    async with db_pool.acquire() as conn:
        claims = dict(await conn.fetch("SELECT post_id, claim FROM jobs"))
        assert await conn.fetchval("SELECT count(*) FROM variant_writes") == 0, "published claims leave nothing to sweep"
    for row in rows:
        assert row["storage_key"] == f"posts/{row['post_id']}/{claims[row['post_id']]}/{row['variant']}.jpg"
        data = await store.get(row["storage_key"])
        assert len(data) == row["bytes"] and data[:2] == b"\xff\xd8"
    async with db_pool.acquire() as conn:
        post = await conn.fetchrow("SELECT width, height, metadata, published_at FROM posts WHERE id = $1", posts[0])
        jobs = await conn.fetch("SELECT status::text AS s, attempts, lease_owner FROM jobs")
    assert (post["width"], post["height"]) == (800, 600) and post["published_at"] is not None
    assert post["metadata"]["placeholder"] and post["metadata"]["dominant_color"].startswith("#")
    assert [(j["s"], j["attempts"], j["lease_owner"]) for j in jobs] == [("succeeded", 1, None)] * 4
    assert pipeline.metrics.jobs_succeeded == 4 and pipeline.metrics.pool_restarts == 0


async def test_a_bad_image_fails_its_post_and_the_rest_go_on(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    tiny = corpus_file("tiny-100x68.jpg").read_bytes()
    posts = await add_posts(db_pool, store, [tiny, small_jpeg, b"\xff\xd8\xff garbage"])
    pipeline = await run_until_settled(db_pool, store, config(), 90)
    async with db_pool.acquire() as conn:
        rows = {r["id"]: r for r in await conn.fetch(
            "SELECT p.id, p.status::text AS s, p.error, p.error_message, j.status::text AS js, j.attempts "
            "FROM posts p JOIN jobs j ON j.post_id = p.id")}
    assert (rows[posts[0]]["s"], rows[posts[0]]["error"], rows[posts[0]]["js"]) == ("failed", "image_too_small", "failed")
    assert rows[posts[0]]["attempts"] == 1 and rows[posts[0]]["error_message"]
    assert rows[posts[1]]["s"] == "published"
    assert rows[posts[2]]["s"] == "failed" and rows[posts[2]]["error"] == "image_corrupt"


async def test_a_missing_source_fails_the_post(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    [post_id] = await add_posts(db_pool, store, [small_jpeg])
    async with db_pool.acquire() as conn:
        key = await conn.fetchval("SELECT source_key FROM posts WHERE id = $1", post_id)
    await store.delete(key)
    pipeline = await run_until_settled(db_pool, store, config(), 30)
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT error FROM posts WHERE id = $1", post_id) == "source_missing"


@pytest.mark.fault  # kills pool workers for real
async def test_a_worker_killed_mid_job_costs_nothing(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    await add_posts(db_pool, store, [small_jpeg] * 6)
    readiness = Readiness()
    readiness.clear("starting")
    seen_unready = []

    def report(reason: str, blocked: bool) -> None:
        (readiness.block if blocked else readiness.clear)(reason)
        seen_unready.append((reason, blocked))

    pipeline = make_pipeline(db_pool, store, config(), readiness=report)
    await pipeline.start()
    try:
        await wait_until(lambda: _busy(pipeline), 30, 0.01)
        pids = await pipeline.worker_pids()
        os.kill(pids[0], signal.SIGKILL)
        await wait_until(lambda: all_settled(db_pool), 90)
    finally:
        await pipeline.close()
    assert await post_states(db_pool) == {"published": 6}
    assert len(await variants(db_pool)) == 18
    assert pipeline.metrics.pool_breaks >= 1 and pipeline.metrics.pool_restarts >= 1
    assert ("pool_broken", True) in seen_unready[1:] and readiness.reasons == ["draining"]
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT max(pool_breaks) FROM jobs") == 1


async def _busy(pipeline: Pipeline) -> bool:
    return pipeline.metrics.pool_busy > 0


@pytest.mark.fault  # kills pool workers for real
async def test_a_poison_image_is_set_aside_and_its_neighbours_publish(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    posts = await add_posts(db_pool, store, [small_jpeg, small_jpeg + POISON_MARKER, small_jpeg, small_jpeg])
    pipeline = await run_until_settled(db_pool, store, config(transcode=poison_transcode), 120)
    async with db_pool.acquire() as conn:
        rows = {r["id"]: r for r in await conn.fetch(
            "SELECT p.id, p.status::text AS s, p.error, p.error_message, j.status::text AS js, j.pool_breaks "
            "FROM posts p JOIN jobs j ON j.post_id = p.id")}
    poison = rows[posts[1]]
    assert (poison["s"], poison["error"], poison["js"], poison["pool_breaks"]) == ("failed", "poison_image", "dead", 3)
    assert "crashed the image worker 3 times" in poison["error_message"]
    for post_id in (posts[0], posts[2], posts[3]):
        assert rows[post_id]["s"] == "published" and rows[post_id]["pool_breaks"] <= 1
    assert pipeline.metrics.jobs_dead == 1


@pytest.mark.fault  # kills pool workers for real
async def test_a_hanging_transcode_is_stopped_at_the_timeout(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    posts = await add_posts(db_pool, store, [small_jpeg + SLOW_MARKER, small_jpeg], max_attempts=5)
    pipeline = await run_until_settled(db_pool, store, config(transcode=slow_transcode, job_timeout_s=1.5), 90)
    async with db_pool.acquire() as conn:
        slow = await conn.fetchrow(
            "SELECT p.status::text AS s, p.error, j.status::text AS js, j.attempts FROM posts p "
            "JOIN jobs j ON j.post_id = p.id WHERE p.id = $1", posts[0])
        other = await conn.fetchval("SELECT status::text FROM posts WHERE id = $1", posts[1])
    # set aside after its second timeout, not after all five attempts
    assert (slow["s"], slow["error"], slow["js"], slow["attempts"]) == ("failed", "job_timeout", "failed", 2)
    assert other == "published"
    assert pipeline.metrics.jobs_timed_out == 2


async def test_the_pool_is_recycled_after_n_jobs(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    await add_posts(db_pool, store, [small_jpeg] * 5)
    pipeline = make_pipeline(db_pool, store, config(workers=1, recycle_after=2))
    await pipeline.start()
    try:
        first = [psutil.Process(pid) for pid in await pipeline.worker_pids()]
        await wait_until(lambda: all_settled(db_pool), 90)
    finally:
        await pipeline.close()
    assert await post_states(db_pool) == {"published": 5}
    assert pipeline.metrics.pool_restarts == 2 and pipeline.metrics.pool_breaks == 0
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in first), "recycled"


@pytest.mark.fault  # kills pool workers for real
async def test_drain_hands_unfinished_jobs_back_with_their_attempt(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    await add_posts(db_pool, store, [small_jpeg + SLOW_MARKER, small_jpeg + SLOW_MARKER])
    pipeline = make_pipeline(db_pool, store, config(transcode=slow_transcode, job_timeout_s=600))
    await pipeline.start()
    await wait_until(lambda: _busy_n(pipeline, 2), 30, 0.02)
    workers = [psutil.Process(pid) for pid in await pipeline.worker_pids()]
    report = await pipeline.close(timeout=0.5)
    assert not report.finished and report.released == 2
    async with db_pool.acquire() as conn:
        jobs = await conn.fetch("SELECT status::text AS s, attempts, lease_owner FROM jobs")
    assert [(j["s"], j["attempts"], j["lease_owner"]) for j in jobs] == [("queued", 0, None)] * 2
    for worker in workers:  # the hanging workers did not outlive the drain (psutil notices a reused pid)
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE


async def _busy_n(pipeline: Pipeline, n: int) -> bool:
    return pipeline.metrics.pool_busy >= n


async def test_a_crashed_transcode_stage_restarts_and_gives_its_jobs_back(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    await add_posts(db_pool, store, [small_jpeg] * 6)
    pipeline = make_pipeline(db_pool, store, config(transcode=sleepy_transcode))
    await pipeline.start()
    try:
        await wait_until(lambda: _busy(pipeline), 30, 0.01)
        old = [psutil.Process(pid) for pid in await pipeline.worker_pids()]
        await pipeline.ctx.ref("transcoder").tell("not a message it knows")  # crashes it
        await wait_until(lambda: all_settled(db_pool), 90)
        assert await pipeline.worker_pids(), "a new pool runs"
    finally:
        await pipeline.close()
    assert await post_states(db_pool) == {"published": 6}
    assert len(await variants(db_pool)) == 18
    assert pipeline.metrics.jobs_deferred >= 1 and pipeline.metrics.jobs_succeeded == 6
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in old), "old pool went down"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT max(attempts) FROM jobs") == 1, "giving back costs no attempt"


async def test_a_pipeline_that_keeps_crashing_gives_up_and_says_so(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    await add_posts(db_pool, store, [small_jpeg] * 2)
    blocked: set[str] = set()
    pipeline = make_pipeline(
        db_pool, store, config(workers=1),
        readiness=lambda reason, on: blocked.add(reason) if on else blocked.discard(reason),
    )
    await pipeline.start()
    await crash_until_it_gives_up(pipeline)
    assert "pipeline_failed" in blocked
    report = await pipeline.close()
    assert report.seconds < 5, "no point waiting for a pipeline that gave up"
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'running'") == 0


async def _gave_up(pipeline: Pipeline) -> bool:
    return not pipeline.system.running


async def crash_until_it_gives_up(pipeline: Pipeline) -> None:
    """Crash the transcode stage more often than its supervisor's intensity allows."""
    transcoder = pipeline.ctx.ref("transcoder")
    for _ in range(8):
        try:
            await transcoder.tell("not a message it knows")
        except Exception:
            break  # ActorStopped: the system already gave up
        await asyncio.sleep(0.05)
    await wait_until(lambda: _gave_up(pipeline), 60)


async def test_a_pipeline_that_gives_up_hands_its_jobs_back_at_once(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    """Nothing in a stopped pipeline will finish its held jobs: they go back to the queue now, not
    when their leases expire, with the attempt kept used."""
    [post] = await add_posts(db_pool, store, [small_jpeg + SLOW_MARKER])
    pipeline = make_pipeline(db_pool, store, config(workers=1, transcode=slow_transcode, job_timeout_s=600, lease_s=600))
    await pipeline.start()
    try:
        await wait_until(lambda: _busy_n(pipeline, 1), 30, 0.02)
        await crash_until_it_gives_up(pipeline)

        async def handed_back() -> bool:
            async with db_pool.acquire() as conn:
                row = await conn.fetchrow("SELECT status::text AS s, attempts, lease_owner FROM jobs WHERE post_id = $1", post)
            return (row["s"], row["attempts"], row["lease_owner"]) == ("queued", 1, None)

        await wait_until(handed_back, 10)  # the lease had 600 s left: only the hand-back explains this
    finally:
        await pipeline.close(timeout=1)


async def test_jobs_are_not_held_while_the_pool_cannot_be_rebuilt(db_pool, store, small_jpeg, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A broken pool whose rebuild keeps failing must not sit on jobs (renewing their leases, so no
    other instance may take them): nothing is claimed until a pool is up, then everything publishes."""
    flag = tmp_path / "fail-init"
    monkeypatch.setenv(FAIL_INIT_FLAG_ENV, str(flag))
    pipeline = make_pipeline(db_pool, store, config(workers=1, worker_init=init_failing_while_flagged))
    await pipeline.start()
    try:
        flag.touch()
        for pid in await pipeline.worker_pids():
            psutil.Process(pid).kill()  # an idle worker dies; its rebuild will fail while flagged
        await wait_until(lambda: _pool_broke(pipeline), 30)
        await asyncio.sleep(1.0)  # a first rebuild attempt fails
        posts = await add_posts(db_pool, store, [small_jpeg, small_jpeg])
        await asyncio.sleep(2.0)  # several feeder polls and rebuild attempts
        async with db_pool.acquire() as conn:
            held = await conn.fetchval("SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL")
        assert held == 0
        flag.unlink()
        await wait_until(lambda: _published(db_pool, posts), 90)
    finally:
        await pipeline.close(timeout=5)


async def _pool_broke(pipeline: Pipeline) -> bool:
    return pipeline.metrics.pool_breaks >= 1


async def _published(pool, posts) -> bool:  # type: ignore[no-untyped-def]
    async with pool.acquire() as conn:
        states = await conn.fetch("SELECT status::text AS s FROM posts WHERE id = ANY($1::uuid[])", posts)
    return all(r["s"] == "published" for r in states)
