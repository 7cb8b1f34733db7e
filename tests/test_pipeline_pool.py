"""The process pool's life on real spawn processes: a worker stuck in a task must not outlive
shutdown, one pool break must never leave two pools behind, and a drain that timed out does not
then wait out every actor's own shutdown timeout.

ProcessPoolExecutor.shutdown() drops its own list of processes, so the pool has to remember them
beforehand, or there is nothing left to join and nothing to kill when the join times out."""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest


from actors.pipeline.system import STOP_GRACE_S
from actors.pipeline.pool import WorkerPool
from test_pipeline import _busy_n, add_posts, config, make_pipeline, small_jpeg, store  # noqa: F401 - fixtures
from test_pipeline_hooks import SLOW_MARKER, slow_transcode, wait_until


def _gone(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _busy_pool() -> tuple[WorkerPool, list[int]]:
    pool = WorkerPool(1, "spawn", None)
    await pool.start()
    pool.submit(time.sleep, 120)  # a task that would outlive the test by far
    return pool, pool.worker_pids()


@pytest.mark.fault  # leaves a worker stuck in a task, then expects the pool to stop it
async def test_a_worker_stuck_past_the_join_timeout_is_killed() -> None:
    pool, pids = await _busy_pool()
    await pool.shutdown(kill=False, timeout=0.5)

    async def all_gone() -> bool:
        return all(_gone(pid) for pid in pids)

    await wait_until(all_gone, 10, 0.05)


@pytest.mark.fault
async def test_a_killing_shutdown_returns_once_the_workers_are_dead() -> None:
    pool, pids = await _busy_pool()
    await pool.shutdown(kill=True)
    assert all(_gone(pid) for pid in pids)


def _spawn_workers() -> set[int]:
    """Live spawn-started children of this process (pool workers of any pool)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


async def test_a_break_reported_twice_rebuilds_one_pool(db_pool, store) -> None:  # type: ignore[no-untyped-def]
    before = _spawn_workers()
    pipeline = make_pipeline(db_pool, store, config(workers=1))
    await pipeline.start()
    try:
        supervisor = pipeline.system.ref("transcoder")._incarnation.actor  # type: ignore[union-attr]
        # What the actor does when a submit is refused by a broken pool and then the futures that
        # were running in it fail: two rebuild requests for one break.
        await supervisor._rebuild(blocked=True)
        await supervisor._rebuild(blocked=True)

        async def settled() -> bool:
            starting = [t for t in supervisor._tasks if t.get_coro().__name__ == "_start_pool"]
            return not starting and not supervisor.rebuilding

        await wait_until(settled, 60, 0.05)
        assert _spawn_workers() - before == set(await pipeline.worker_pids())
        assert pipeline.metrics.pool_restarts == 1
    finally:
        await pipeline.close()


@pytest.mark.fault  # leaves a worker hanging on a job past the drain timeout
async def test_past_the_drain_timeout_the_actors_do_not_each_get_their_own_grace(db_pool, store, small_jpeg) -> None:  # type: ignore[no-untyped-def]
    chore_started = asyncio.Event()

    async def stuck_chore() -> None:  # a sweep stuck on a store that does not answer
        chore_started.set()
        await asyncio.sleep(3600)

    await add_posts(db_pool, store, [small_jpeg + SLOW_MARKER])
    pipeline = make_pipeline(db_pool, store, config(transcode=slow_transcode, job_timeout_s=600, housekeeping=(stuck_chore,)))
    await pipeline.start()
    await wait_until(lambda: _busy_n(pipeline, 1), 30, 0.02)
    await asyncio.wait_for(chore_started.wait(), 30)
    report = await pipeline.close(timeout=0.5)
    assert not report.finished and report.released == 1
    # The reaper's own shutdown_timeout (5 s) must not be waited out once the drain has timed out.
    assert report.seconds < 0.5 + STOP_GRACE_S + 1.5, report
