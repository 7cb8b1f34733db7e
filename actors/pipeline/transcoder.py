"""The transcode supervisor: owns the process pool, feeds it at most one job per worker, watches
the clock, and turns a broken pool into a rebuilt one without losing or double-counting jobs.

A pool break fails every future in flight with BrokenProcessPool and does not say who did it. Each
job in flight gets a ``pool_breaks`` count; those that reach the limit are poison (dead, post
failed ``poison_image``); the rest run again, one at a time while suspect, so an innocent job that
shared the pool with a poison one is cleared on its next run instead of being counted again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from actors.runtime import Actor

from .context import PipelineContext
from .decisions import (
    SOURCE_CHANGED, classify, may_submit, next_to_run, poison_verdict, split_poison, timeout_verdict,
)
from .pool import WorkerPool
from .ports import ClaimedJob
from .tracker import FETCH, POOL, PUBLISH, WAIT

log = logging.getLogger("actors.pipeline")

POOL_BROKEN = "pool_broken"


@dataclass(eq=False)
class Work:
    job: ClaimedJob
    source: bytes = field(repr=False)
    suspect: bool = False
    generation: int = 0
    started: float = 0.0


@dataclass(frozen=True)
class Fetched:
    work: Work


@dataclass(frozen=True)
class Finished:
    work: Work
    result: Any = None
    error: BaseException | None = None


@dataclass(frozen=True)
class PoolReady:
    pass


@dataclass(frozen=True)
class PoolStartFailed:
    reason: str


@dataclass(frozen=True)
class Publish:
    job: ClaimedJob
    result: Any


_TICK = "tick"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TranscodeSupervisor(Actor):
    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.pool = WorkerPool(cfg.workers, cfg.start_method, cfg.worker_init, (cfg.vips_concurrency,))
        self.pending: deque[Work] = deque()
        self.running: dict[int, Work] = {}
        self.rebuilding = False
        self.recycling = False
        self.timeout_kills: dict[int, int] = {}  # pool generation -> the job we killed it for
        self._tasks: set[asyncio.Task[Any]] = set()

    async def on_start(self) -> None:
        # A crashed predecessor dropped these; the tracker still holds them (and renews their leases).
        dropped = self.ctx.tracker.in_stages(FETCH, WAIT, POOL)
        await self.ctx.give_back(dropped, "stage_restarted", "the transcode stage restarted")  # type: ignore[arg-type]
        self.ctx.readiness(POOL_BROKEN, True)
        await self.pool.start()
        self.ctx.readiness(POOL_BROKEN, False)
        self._spawn(self._ticker())

    async def on_stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.close()

    def worker_pids(self) -> list[int]:
        return self.pool.worker_pids()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ClaimedJob):
            if self.ctx.tracker.holds(message):
                self._spawn(self._fetch(message))
        elif isinstance(message, Fetched):
            # A Fetched left in the mailbox by a crashed predecessor is about a job given back.
            if self.ctx.tracker.holds(message.work.job):
                self.ctx.tracker.move(message.work.job.id, WAIT)
                self.pending.append(message.work)
        elif isinstance(message, Finished):
            await self._finished(message)
        elif isinstance(message, PoolStartFailed):
            # Without a pool nothing here will finish: hand waiting jobs back so another instance can
            # take them, and have the feeder stop claiming until a pool is up again.
            self.ctx.pool_unavailable = True
            waiting = [work.job for work in self.pending]
            self.pending.clear()
            await self.ctx.give_back(waiting, "pool_unavailable", f"no image worker pool: {message.reason}")
        elif isinstance(message, PoolReady):
            self.ctx.pool_unavailable = False
            self.rebuilding = self.recycling = False
            self.ctx.metrics.pool_restarts += 1
            self.ctx.readiness(POOL_BROKEN, False)
        elif message == _TICK:
            if self.pool.broken and not self.running and not self.rebuilding:
                log.warning("an idle image worker died; rebuilding the pool")
                self.ctx.metrics.pool_breaks += 1
                await self._rebuild(blocked=True)
            self._check_timeouts()
        elif message == "worker_pids":
            return self.pool.worker_pids()
        else:
            raise ValueError(f"transcode supervisor got {message!r}")
        await self._pump()
        self.ctx.metrics.pool_busy = len(self.running)
        return None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, job: ClaimedJob) -> None:
        # The source is read here, in the parent: pool workers hold no store clients or credentials.
        try:
            source = await self.ctx.store.get(job.source_key)
        except Exception as exc:
            cfg = self.ctx.config
            await self.ctx.settle(job, classify(exc, not_found=cfg.not_found_errors, store_errors=cfg.store_errors))
            return
        if job.source_sha256 and await asyncio.to_thread(sha256_hex, source) != job.source_sha256.lower():
            await self.ctx.settle(job, SOURCE_CHANGED)
            return
        await self.ref.tell(Fetched(Work(job, source, suspect=job.pool_breaks > 0)))

    async def _pump(self) -> None:
        if not self.pool.ready or self.rebuilding or self.recycling:
            return
        while self.pending:
            index = next_to_run(
                [(w.job.user_id, w.suspect) for w in self.pending], (w.job.user_id for w in self.running.values())
            )
            work = self.pending[index]
            if not may_submit(work.suspect, (w.suspect for w in self.running.values()), self.pool.workers):
                return
            cfg = self.ctx.config
            args = (work.source, cfg.transcode_options) if cfg.transcode_options is not None else (work.source,)
            try:
                future = self.pool.submit(cfg.transcode, *args)
            except (BrokenProcessPool, RuntimeError) as exc:  # a worker died while the pool was idle
                log.warning("image worker pool is unusable (%s); rebuilding", exc)
                self.ctx.metrics.pool_breaks += 1
                await self._rebuild(blocked=True)
                return
            del self.pending[index]
            work.generation, work.started = self.pool.generation, time.monotonic()
            self.running[work.job.id] = work
            self.ctx.tracker.move(work.job.id, POOL)
            self._spawn(self._await(work, future))

    async def _await(self, work: Work, future: Any) -> None:
        try:
            result = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - reported to the actor, which decides
            await self.ref.tell(Finished(work, error=exc))
        else:
            await self.ref.tell(Finished(work, result=result))

    async def _finished(self, msg: Finished) -> None:
        work = msg.work
        if self.running.get(work.job.id) is not work:
            return  # already dealt with when its pool broke
        if isinstance(msg.error, BrokenProcessPool):
            await self._pool_broke(work.generation)
            return
        del self.running[work.job.id]
        self.pool.jobs_done += 1
        if self.pool.jobs_done >= self.ctx.config.recycle_after:
            self.recycling = True  # stop feeding it; rebuilt once what runs now is done
        if msg.error is None:
            self.ctx.observe(self.ctx.config.on_transcoded, msg.result)
            self.ctx.tracker.move(work.job.id, PUBLISH)
            await self.ctx.ref("publisher").tell(Publish(work.job, msg.result))
        else:
            cfg = self.ctx.config
            await self.ctx.settle(work.job, classify(msg.error, not_found=cfg.not_found_errors, store_errors=cfg.store_errors))
        if self.recycling and not self.running and not self.rebuilding:
            log.info("recycling the image worker pool after %d jobs", self.pool.jobs_done)
            await self._rebuild(blocked=False)

    async def _pool_broke(self, generation: int) -> None:
        victims = [w for w in self.running.values() if w.generation == generation]
        for work in victims:
            del self.running[work.job.id]
        killed_for = self.timeout_kills.pop(generation, None)
        await self._rebuild(blocked=True)
        if killed_for is not None:
            again = [w for w in victims if w.job.id != killed_for]
            for work in victims:
                if work.job.id == killed_for:
                    self.ctx.metrics.jobs_timed_out += 1
                    await self.ctx.settle(work.job, timeout_verdict(self.ctx.config.job_timeout_s, work.job.attempts))
            self._run_again(again)
            return
        self.ctx.metrics.pool_breaks += 1
        log.warning("image worker pool broke with jobs %s in flight; rebuilding", [w.job.id for w in victims])
        try:
            breaks = await self.ctx.queue.add_pool_break([w.job for w in victims])
        except Exception as exc:  # cannot count now: run them again, still suspect
            log.warning("could not count the pool break (%s)", exc)
            breaks = {w.job.id: 0 for w in victims}
        poison, again = split_poison(breaks, self.ctx.config.poison_breaks)
        by_id = {w.job.id: w for w in victims}
        for job_id in poison:
            await self.ctx.settle(by_id[job_id].job, poison_verdict(breaks[job_id]))
        for work in victims:
            if work.job.id not in breaks:  # our lease is gone: another instance has it now
                self.ctx.metrics.jobs_lost += 1
                self.ctx.tracker.release(work.job.id, work.job)
        rerun = [by_id[i] for i in again]
        for work in rerun:
            work.suspect = True
        self._run_again(rerun)

    def _run_again(self, works: list[Work]) -> None:
        for work in works:
            self.ctx.tracker.move(work.job.id, WAIT)
        self.pending.extendleft(reversed(works))  # first in line, in their old order

    async def _rebuild(self, *, blocked: bool) -> None:
        if blocked:
            self.ctx.readiness(POOL_BROKEN, True)
        # One break can ask twice (a submit refused by the broken pool, then the futures that were
        # running in it): a second start would leak the first pool, whose jobs no timeout watches.
        if self.rebuilding:
            return
        self.rebuilding = True
        await self.pool.shutdown(kill=blocked)
        self._spawn(self._start_pool())

    async def _start_pool(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.pool.start()
                break
            except Exception as exc:
                log.error("image worker pool failed to start (%s); retrying in %.1fs", exc, delay)
                await self.ref.tell(PoolStartFailed(str(exc)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        await self.ref.tell(PoolReady())

    async def _ticker(self) -> None:
        period = min(1.0, self.ctx.config.job_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            try:
                self.ref.try_tell(_TICK)
            except Exception:
                pass  # a full mailbox is busy enough; the next tick will look

    def _check_timeouts(self) -> None:
        limit = self.ctx.config.job_timeout_s
        now = time.monotonic()
        for work in self.running.values():
            if work.generation != self.pool.generation or work.generation in self.timeout_kills:
                continue
            if now - work.started > limit:
                log.warning("job %s ran over %.0fs; stopping its worker pool", work.job.id, limit)
                self.timeout_kills[work.generation] = work.job.id
                self.pool.kill_workers()
                return
