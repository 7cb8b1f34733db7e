"""A lease is renewed only while its job progresses, and a pipeline that gave up ends its process."""

from __future__ import annotations

import time


from actors.pipeline.context import STUCK
from test_pipeline import _busy_n, add_posts, config, crash_until_it_gives_up, make_pipeline, small_jpeg, store  # noqa: F401 - fixtures
from test_pipeline_hooks import SLOW_MARKER, sleepy_transcode, slow_transcode, wait_until


async def _lease_left(pool, post) -> float:  # type: ignore[no-untyped-def]
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT extract(epoch FROM lease_expires_at - now()) FROM jobs WHERE post_id = $1", post
        )


async def test_a_job_that_stopped_progressing_keeps_no_lease_and_readiness_says_so(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    """The pool never answers for this job (as when a dead worker's result pipe wedged it): the
    heartbeat must let its lease run out so another instance can take it, not renew it forever."""
    [post] = await add_posts(db_pool, store, [small_jpeg + SLOW_MARKER])
    blocked: set[str] = set()
    pipeline = make_pipeline(
        db_pool, store, config(workers=1, transcode=slow_transcode, job_timeout_s=600, lease_s=2.0),
        readiness=lambda reason, on: blocked.add(reason) if on else blocked.discard(reason),
    )
    await pipeline.start()
    try:
        await wait_until(lambda: _busy_n(pipeline, 1), 30, 0.02)
        await wait_until(lambda: _renewed(db_pool, post), 30, 0.1)
        # Within its 600 s timeout the job is progressing: renewed. Move its clock past the limit.
        [held] = pipeline.ctx.tracker._held.values()
        held.since = time.monotonic() - 10_000

        async def expired() -> bool:
            return await _lease_left(db_pool, post) < 0

        await wait_until(expired, 30, 0.1)
        assert STUCK in blocked
    finally:
        await pipeline.close(timeout=1)


async def _renewed(pool, post) -> bool:  # type: ignore[no-untyped-def]
    return await _lease_left(pool, post) > 1.0


async def test_a_pipeline_that_gives_up_asks_for_its_process_to_end(db_pool, store) -> None:  # type: ignore[no-untyped-def]
    failed: list[bool] = []
    pipeline = make_pipeline(db_pool, store, config(workers=1), on_failed=lambda: failed.append(True))
    await pipeline.start()
    await crash_until_it_gives_up(pipeline)

    async def asked() -> bool:
        return bool(failed)

    await wait_until(asked, 10)
    await pipeline.close()


async def test_a_post_deleted_while_it_transcodes_is_never_published_and_leaves_no_variants(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    [post] = await add_posts(db_pool, store, [small_jpeg])
    pipeline = make_pipeline(db_pool, store, config(workers=1, transcode=sleepy_transcode))
    await pipeline.start()
    try:
        await wait_until(lambda: _busy_n(pipeline, 1), 30, 0.005)
        async with db_pool.acquire() as conn:
            await conn.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", post)

        async def job_closed() -> bool:
            async with db_pool.acquire() as conn:
                return await conn.fetchval("SELECT status::text FROM jobs WHERE post_id = $1", post) == "failed"

        await wait_until(job_closed, 30)
    finally:
        await pipeline.close()
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT published_at FROM posts WHERE id = $1", post) is None
        assert await conn.fetchval("SELECT count(*) FROM post_images") == 0
        assert await conn.fetchval("SELECT count(*) FROM variant_writes") == 0
    assert not list((store.root / "posts").glob(f"{post}/**/*.jpg")), "its variants were removed at once"
