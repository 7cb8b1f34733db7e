"""The process pool the transcode supervisor owns, and the only place that touches its processes.

Why not ``max_tasks_per_child``: on CPython 3.11 it can deadlock the executor (CPython issue 115634),
so the supervisor recycles the whole pool itself after ``recycle_after`` jobs. Why ``spawn`` or
``forkserver`` and never ``fork``: libvips starts threads, and a forked copy of a threaded process
can hang on a lock held by a thread that does not exist in the child.

A running future cannot be cancelled, so stopping a job that overran its timeout means killing the
pool's processes; every future in flight then fails with BrokenProcessPool and the pool is rebuilt.

A worker's death must always end in that break, and the executor alone does not promise it: a worker
killed half way through sending a large result leaves its manager thread blocked forever on the
partial message. Two layers here make the break certain. Tasks return through ``pool_results``, so
what crosses the pipe is small enough to be written atomically; and a watchdog thread per pool
notices a dead worker the executor has not reported, kills the rest, closes the parent's copy of the
result pipe's write end (the blocked read then ends) and, if even that does not break the pool,
fails the pool's futures itself.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

import psutil

from .pool_results import Envelope, ResultLost, open_envelope, run_task

log = logging.getLogger(__name__)

WARMUP_TIMEOUT_S = 120.0
# How often the watchdog looks, and how long the executor gets to report a dead worker itself.
WATCH_INTERVAL_S = 0.25
BREAK_GRACE_S = 2.0
_SPILL_PREFIX = "imagepipe-pool-"


class _Generation:
    """One executor and what belongs to it: its processes, spill dir, open futures and watchdog."""

    def __init__(self, number: int, executor: ProcessPoolExecutor, spill_dir: str) -> None:
        self.number = number
        self.executor = executor
        self.spill_dir = spill_dir
        self.processes = list((getattr(executor, "_processes", None) or {}).values())
        self.outstanding: set[Future] = set()
        self.lock = threading.Lock()
        self.wedged = False  # the executor never reported a break; we failed its futures ourselves
        self.stop = threading.Event()
        self.watchdog = threading.Thread(target=self._watch, name=f"pool-watchdog-{number}", daemon=True)

    @property
    def broken(self) -> bool:
        return self.wedged or bool(getattr(self.executor, "_broken", False))

    def _watch(self) -> None:
        dead_since: float | None = None
        while not self.stop.wait(WATCH_INTERVAL_S):
            if self.broken:
                return  # the executor saw it and failed its futures; the supervisor rebuilds
            try:
                dead = multiprocessing.connection.wait([p.sentinel for p in self.processes], timeout=0)
            except (OSError, ValueError):
                return  # the processes were closed: the pool is being shut down
            if not dead:
                dead_since = None
                continue
            dead_since = dead_since or time.monotonic()
            if time.monotonic() - dead_since >= BREAK_GRACE_S:
                self._unstick()
                return

    def kill(self) -> None:
        """Kill every worker and close the parent's write end of the result pipe: with every writer
        gone, a manager thread blocked reading a half-sent result gets end-of-file and breaks the
        pool, instead of blocking forever (and with it the interpreter's exit, which joins it)."""
        _kill_all(self.processes)
        result_queue = getattr(self.executor, "_result_queue", None)
        writer = getattr(result_queue, "_writer", None)
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass

    def _unstick(self) -> None:
        log.error(
            "an image worker died and the pool did not notice within %.0fs (its result pipe is stuck); "
            "breaking the pool", BREAK_GRACE_S,
        )
        self.kill()
        deadline = time.monotonic() + BREAK_GRACE_S
        while time.monotonic() < deadline and not getattr(self.executor, "_broken", False):
            time.sleep(0.05)
        if getattr(self.executor, "_broken", False):
            return
        log.error("the image worker pool stayed stuck after its workers were killed; abandoning it")
        self.wedged = True
        with self.lock:
            futures = list(self.outstanding)
        for future in futures:
            _settle(future, error=BrokenProcessPool("an image worker died and its pool was stuck"))


def _settle(future: Future, *, result: Any = None, error: BaseException | None = None) -> None:
    """Complete a future unless the other side (manager thread or watchdog) already did."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


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
        self._current: _Generation | None = None
        self._spill_root: str | None = None
        self.generation = 0
        self.jobs_done = 0  # in this generation, for recycling

    @property
    def ready(self) -> bool:
        return self._current is not None

    async def start(self) -> None:
        """A fresh executor whose every worker has started and run its initializer."""
        if self._spill_root is None:
            await asyncio.to_thread(sweep_abandoned_spill_dirs)
            self._spill_root = tempfile.mkdtemp(prefix=f"{_SPILL_PREFIX}{os.getpid()}-")
        spill_dir = tempfile.mkdtemp(prefix=f"g{self.generation + 1}-", dir=self._spill_root)
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
            _kill_all(list((getattr(executor, "_processes", None) or {}).values()))
            executor.shutdown(wait=False, cancel_futures=True)
            shutil.rmtree(spill_dir, ignore_errors=True)
            raise
        self.generation += 1
        self.jobs_done = 0
        self._current = _Generation(self.generation, executor, spill_dir)
        self._current.watchdog.start()
        log.info("image worker pool ready: %d %s workers (generation %d)", self.workers, self._context.get_start_method(), self.generation)

    @property
    def broken(self) -> bool:
        """A worker died: the executor said so (its private ``_broken``, set by its manager thread),
        or the watchdog had to break a pool that never would have."""
        return self._current is not None and self._current.broken

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` in a worker; the future fails with BrokenProcessPool if the pool breaks."""
        current = self._current
        assert current is not None, "pool not started"
        if current.wedged:
            raise BrokenProcessPool("the image worker pool is stuck")
        outer: Future = Future()
        outer.set_running_or_notify_cancel()
        with current.lock:
            current.outstanding.add(outer)
        outer.add_done_callback(lambda f: _forget(current, f))
        inner = current.executor.submit(run_task, fn, args, current.spill_dir)
        inner.add_done_callback(lambda f: _deliver(f, outer))
        return outer

    def worker_pids(self) -> list[int]:
        if self._current is None:
            return []
        return [p.pid for p in self._current.processes if p.pid is not None]

    def kill_workers(self) -> None:
        """Stop whatever the workers are doing, now: every pending future breaks (the watchdog
        makes sure of it if the executor does not)."""
        if self._current is not None:
            _kill_all(self._current.processes)

    async def shutdown(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        current.stop.set()
        if kill:
            current.kill()
        current.executor.shutdown(wait=False, cancel_futures=True)
        try:
            await asyncio.wait_for(asyncio.to_thread(_join, current.processes), timeout)
        except asyncio.TimeoutError:
            log.warning("pool workers %s did not exit in %.0fs; killing them", [p.pid for p in current.processes], timeout)
            current.kill()
        # Anything still open belonged to a worker that is gone now: it will never be answered.
        with current.lock:
            orphans = list(current.outstanding)
        for future in orphans:
            _settle(future, error=BrokenProcessPool("the image worker pool was shut down"))
        shutil.rmtree(current.spill_dir, ignore_errors=True)

    async def close(self) -> None:
        """Shut down for good: the workers are killed and the spill directory removed."""
        await self.shutdown(kill=True)
        if self._spill_root is not None:
            shutil.rmtree(self._spill_root, ignore_errors=True)
            self._spill_root = None


def _forget(generation: _Generation, future: Future) -> None:
    with generation.lock:
        generation.outstanding.discard(future)


def _deliver(inner: Future, outer: Future) -> None:
    """Runs on the executor's manager thread: unpack the envelope into the future the caller holds."""
    error = inner.exception()
    if error is not None:
        _settle(outer, error=error)
        return
    envelope: Envelope = inner.result()
    if outer.done():  # failed by the watchdog meanwhile: just drop the spilled file
        if envelope.path is not None:
            try:
                os.unlink(envelope.path)
            except OSError:
                pass
        return
    try:
        failed, value = open_envelope(envelope)
    except ResultLost as exc:
        _settle(outer, error=BrokenProcessPool(str(exc)))
    except Exception as exc:  # a result that does not unpickle is the task's failure, not the pool's
        _settle(outer, error=exc)
    else:
        _settle(outer, error=value) if failed else _settle(outer, result=value)


_SPILL_DIR_NAME = re.compile(rf"^{_SPILL_PREFIX}(\d+)-")


def sweep_abandoned_spill_dirs(root: str | None = None) -> list[str]:
    """Spill directories of processes that no longer run (a SIGKILLed server leaves one behind)."""
    root = root or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        match = _SPILL_DIR_NAME.match(name)
        if match and not psutil.pid_exists(int(match.group(1))):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
            removed.append(name)
    return removed


def _kill_all(processes: list[Any]) -> None:
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):
            pass


def _join(processes: list[Any]) -> None:
    for process in processes:
        try:
            process.join()
        except (OSError, ValueError, AssertionError):
            pass
