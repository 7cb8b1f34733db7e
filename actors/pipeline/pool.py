"""The process pool the transcode supervisor owns, and the only place that touches its processes.

Why not ``max_tasks_per_child``: on CPython 3.11 it can deadlock the executor (CPython issue 115634),
so the supervisor recycles the whole pool itself after ``recycle_after`` jobs. Why ``spawn`` or
``forkserver`` and never ``fork``: libvips starts threads, and a forked copy of a threaded process
can hang on a lock held by a thread that does not exist in the child.

A running future cannot be cancelled, so stopping a job that overran its timeout means killing the
pool's processes; every future in flight then fails with BrokenProcessPool and the pool is rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable

log = logging.getLogger(__name__)

WARMUP_TIMEOUT_S = 120.0


class WorkerPool:
    def __init__(
        self,
        workers: int,
        start_method: str,
        initializer: Callable[..., None] | None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if start_method == "fork":
            raise ValueError("the fork start method is unsafe with libvips threads; use spawn or forkserver")
        self.workers = workers
        self._context = multiprocessing.get_context(start_method)
        self._initializer = initializer
        self._initargs = initargs
        self._executor: ProcessPoolExecutor | None = None
        self.generation = 0
        self.jobs_done = 0  # in this generation, for recycling

    @property
    def ready(self) -> bool:
        return self._executor is not None

    async def start(self) -> None:
        """A fresh executor whose every worker has started and run its initializer."""
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=self._initializer,
            initargs=self._initargs if self._initializer else (),
        )
        try:
            # Starting processes blocks briefly (fork/exec, pipes): keep it off the event loop.
            pings = await asyncio.to_thread(lambda: [executor.submit(os.getpid) for _ in range(self.workers)])
            await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(p) for p in pings)), WARMUP_TIMEOUT_S)
        except BaseException:
            _kill(executor)
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        self._executor = executor
        self.generation += 1
        self.jobs_done = 0
        log.info("image worker pool ready: %d %s workers (generation %d)", self.workers, self._context.get_start_method(), self.generation)

    @property
    def broken(self) -> bool:
        """A worker died while the pool was idle: no future failed to tell us, but the next submit
        would. ``_broken`` is private; it is set by the executor's own manager thread."""
        return bool(self._executor is not None and getattr(self._executor, "_broken", False))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        assert self._executor is not None, "pool not started"
        return self._executor.submit(fn, *args)

    def worker_pids(self) -> list[int]:
        return _pids(self._executor)

    def kill_workers(self) -> None:
        """Stop whatever the workers are doing, now: every pending future breaks."""
        if self._executor is not None:
            _kill(self._executor)

    async def shutdown(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # Taken before shutdown(), which drops the executor's reference to its processes: read
        # after, there would be nothing to join or to kill and stuck workers would outlive us.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        if kill:
            _kill_all(processes)
        executor.shutdown(wait=False, cancel_futures=True)
        try:
            await asyncio.wait_for(asyncio.to_thread(_join, processes), timeout)
        except asyncio.TimeoutError:
            log.warning("pool workers %s did not exit in %.0fs; killing them", [p.pid for p in processes], timeout)
            _kill_all(processes)


def _pids(executor: ProcessPoolExecutor | None) -> list[int]:
    processes = getattr(executor, "_processes", None) or {}
    return [p.pid for p in list(processes.values()) if p.pid is not None]


def _kill(executor: ProcessPoolExecutor) -> None:
    # _processes is private but stable since 3.2; there is no public way to stop a running task.
    _kill_all(list((getattr(executor, "_processes", None) or {}).values()))


def _kill_all(processes: list[Any]) -> None:
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError):
            pass


def _join(processes: list[Any]) -> None:
    for process in processes:
        try:
            process.join()
        except (OSError, ValueError, AssertionError):
            pass
