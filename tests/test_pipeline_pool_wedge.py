"""A worker's death at any moment ends in a pool break, never in a pool that hangs.

CPython's executor alone does not promise that: a worker SIGKILLed half way through writing a large
result leaves its manager thread blocked on the partial message forever (no break, no failed future;
seen in a crash run about 1 in 15 random worker kills; ../shared/repros/pool_kill_mid_result.py).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from actors.pipeline.decisions import stage_limits, stuck
from actors.pipeline.pool import BREAK_GRACE_S, WorkerPool, sweep_abandoned_spill_dirs
from actors.pipeline.pool_results import INLINE_LIMIT, RemoteTraceback
from test_pipeline_hooks import big_result, failing_with_a_long_message

pytestmark = pytest.mark.fault

BIG = 150_000_000  # takes long enough to pipe that a kill lands in the middle of it


def _wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


async def _kill_while_sending(pid: int, future, wait_s: float = 20.0) -> str:  # type: ignore[no-untyped-def]
    """SIGKILL ``pid`` once it is writing into a pipe (or once ``future`` is done, whichever first)."""
    deadline = time.monotonic() + wait_s
    while "pipe_write" not in _wchan(pid) and not future.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    where = _wchan(pid)
    os.kill(pid, signal.SIGKILL)
    return where


async def test_a_worker_killed_while_returning_a_large_result_breaks_its_future() -> None:
    pool = WorkerPool(1, "spawn", None)
    await pool.start()
    try:
        future = pool.submit(big_result, BIG)
        await _kill_while_sending(pool.worker_pids()[0], future)
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), 15)
        except BrokenProcessPool:
            pass  # killed before the result was on its way: the job runs again
        else:
            assert len(result) == BIG  # the result was wholly sent before the kill
        deadline = time.monotonic() + 3 * BREAK_GRACE_S
        while not pool.broken and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert pool.broken, "the dead worker is noticed even with nothing in flight"
    finally:
        await pool.close()


async def test_a_worker_killed_at_random_moments_never_leaves_a_future_hanging() -> None:
    rng = random.Random(20261201)
    pool = WorkerPool(1, "spawn", None)
    await pool.start()
    outcomes: dict[str, int] = {"result": 0, "broken": 0}
    try:
        for _ in range(6):
            future = pool.submit(big_result, 40_000_000)
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            os.kill(pool.worker_pids()[0], signal.SIGKILL)
            try:
                assert len(await asyncio.wait_for(asyncio.wrap_future(future), 15)) == 40_000_000
                outcomes["result"] += 1
            except BrokenProcessPool:
                outcomes["broken"] += 1
            # Either way a worker died: the pool must say so, and a fresh one takes the next task.
            deadline = time.monotonic() + 3 * BREAK_GRACE_S
            while not pool.broken and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert pool.broken
            await pool.shutdown(kill=True)
            await pool.start()
    finally:
        await pool.close()
    assert outcomes["broken"] >= 1, outcomes


async def test_the_watchdog_breaks_a_pool_whose_manager_thread_is_stuck_on_a_half_sent_result() -> None:
    """The second layer, for whatever else could leave the executor blind to a dead worker: the raw
    executor is made to hang exactly as the repro does, and the pool must still break."""
    pool = WorkerPool(1, "spawn", None)
    await pool.start()
    try:
        raw = pool._current.executor.submit(big_result, BIG)  # type: ignore[union-attr]  # bypasses the small-result layer
        where = await _kill_while_sending(pool.worker_pids()[0], raw)
        assert "pipe_write" in where, f"the worker was not caught sending ({where!r})"
        started = time.monotonic()
        with pytest.raises(BrokenProcessPool):
            await asyncio.wait_for(asyncio.wrap_future(raw), 15)
        assert time.monotonic() - started < 3 * BREAK_GRACE_S + 2
        assert pool.broken
        with pytest.raises(BrokenProcessPool):
            await asyncio.wrap_future(pool.submit(big_result, 10))
    finally:
        await pool.close()


async def test_results_and_exceptions_of_any_size_cross_with_their_traceback() -> None:
    pool = WorkerPool(1, "spawn", None)
    await pool.start()
    try:
        assert await asyncio.wrap_future(pool.submit(big_result, 10)) == b"x" * 10
        assert len(await asyncio.wrap_future(pool.submit(big_result, 10 * INLINE_LIMIT))) == 10 * INLINE_LIMIT
        for size in (10, 10 * INLINE_LIMIT):
            with pytest.raises(ValueError) as caught:
                await asyncio.wrap_future(pool.submit(failing_with_a_long_message, size))
            assert len(str(caught.value)) == size
            assert isinstance(caught.value.__cause__, RemoteTraceback)
            assert "failing_with_a_long_message" in str(caught.value.__cause__)
        spill_dir = pool._current.spill_dir  # type: ignore[union-attr]
        assert os.listdir(spill_dir) == [], "every spilled result is removed once read"
    finally:
        await pool.close()
    assert not os.path.exists(spill_dir)


def test_spill_dirs_of_dead_processes_are_swept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"imagepipe-pool-{dead.pid}-abc").mkdir()
    (tmp_path / f"imagepipe-pool-{os.getpid()}-def").mkdir()
    (tmp_path / "unrelated").mkdir()
    assert sweep_abandoned_spill_dirs(str(tmp_path)) == [f"imagepipe-pool-{dead.pid}-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"imagepipe-pool-{os.getpid()}-def", "unrelated"]


def test_a_job_past_its_stage_limit_is_stuck_and_no_other() -> None:
    limits = stage_limits(job_timeout_s=60, io_timeout_s=100, capacity=4)
    now = 10_000.0
    held = [
        (1, "pool", now - 60),  # at its job timeout: the supervisor is about to stop it
        (2, "pool", now - 60 - limits["pool"]),  # far past: the pool never reported back
        (3, "wait", now - 200),  # queued behind others, within what they may take
        (4, "fetch", now - limits["fetch"] - 1),
        (5, "publish", now - 10),
    ]
    assert stuck(held, limits, now) == [2, 4]
    assert limits["wait"] >= 4 * 60, "a job may wait while every other held job runs its full time"


def _run(code: str, timeout: float = 30) -> tuple[int, float, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout,
        cwd=Path(__file__).resolve().parents[1],
    )
    return proc.returncode, time.monotonic() - started, proc.stderr


def test_a_thread_stuck_after_shutdown_does_not_hold_the_exit() -> None:
    code, seconds, err = _run("""
        import threading, logging
        from server.exit_guard import leave_when_threads_done
        logging.basicConfig()
        threading.Thread(target=threading.Event().wait, name="stuck-forever").start()
        leave_when_threads_done(0, wait_s=0.5)
        raise SystemExit(5)  # not reached: the stuck thread would make a normal exit hang
    """)
    assert code == 0 and seconds < 10, (code, seconds, err)
    assert "stuck-forever" in err


def test_the_exit_deadline_ends_a_shutdown_that_hangs() -> None:
    code, seconds, err = _run("""
        import time, logging
        from server.exit_guard import arm_exit_deadline
        logging.basicConfig()
        arm_exit_deadline(0.5)
        time.sleep(60)
    """)
    assert code == 1 and seconds < 10, (code, seconds, err)
    assert "exiting now" in err
