"""The feeder: claims exactly as many jobs as there are free slots, and no more.

Jobs wait in PostgreSQL, not in memory, so a crash loses nothing and other instances can take
them. Woken by NOTIFY (a new job) or a freed slot, with a poll as the fallback for missed
notifications and for jobs whose ``run_after`` has just come due.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.runtime import Actor

from .context import PipelineContext
from .decisions import is_db_transient

log = logging.getLogger("actors.pipeline")

_TICK = "tick"


class Feeder(Actor):
    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self._waiter: asyncio.Task[None] | None = None
        self._db_delay = 0.0

    async def on_start(self) -> None:
        self._kick()

    async def on_stop(self) -> None:
        if self._waiter is not None:
            self._waiter.cancel()

    def _kick(self) -> None:
        try:
            self.ref.try_tell(_TICK)
        except Exception:
            pass  # a tick is already waiting, which is all we need

    async def receive(self, message: Any) -> None:
        if message != _TICK:
            raise ValueError(f"feeder got {message!r}")
        ctx = self.ctx
        if ctx.draining:
            return
        if ctx.pool_unavailable:
            self._wait(ctx.config.poll_interval_s)
            return
        free = ctx.tracker.free
        if free <= 0:
            self._wait(ctx.config.poll_interval_s)  # a release pokes the listener sooner
            return
        try:
            jobs = await ctx.queue.claim(free, ctx.owner, ctx.config.lease_s)
        except Exception as exc:
            if not is_db_transient(exc):
                raise
            ctx.db_unreachable()
            self._db_delay = min(max(0.25, self._db_delay * 2), ctx.config.poll_interval_s * 2)
            log.warning("cannot claim jobs (%s); trying again in %.1fs", exc.__class__.__name__, self._db_delay)
            self._wait(self._db_delay)
            return
        self._db_delay = 0.0
        transcoder = ctx.ref("transcoder")
        for job in jobs:
            ctx.tracker.add(job)
            ctx.metrics.jobs_claimed += 1
            await transcoder.tell(job)
        if jobs and len(jobs) == free:
            self._kick()  # there may be more, and room may have freed meanwhile
        else:
            self._wait(ctx.config.poll_interval_s)

    def _wait(self, timeout: float) -> None:
        if self._waiter is not None and not self._waiter.done():
            return
        self._waiter = asyncio.get_running_loop().create_task(self._wait_then_tick(timeout))

    async def _wait_then_tick(self, timeout: float) -> None:
        await self.ctx.listener.wait(timeout)
        self._kick()
