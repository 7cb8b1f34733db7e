"""The pipeline's clocks: lease heartbeats and the reaper (expired leases, housekeeping, queue
counts for /metrics). A database outage is logged and waited out, never a crash."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.runtime import Actor

from .context import PipelineContext
from .decisions import is_db_transient

log = logging.getLogger("actors.pipeline")

_TICK = "tick"


class _Periodic(Actor):
    interval = 1.0

    def __init__(self, ctx: PipelineContext) -> None:
        self.ctx = ctx
        self._clock: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        self._clock = asyncio.get_running_loop().create_task(self._run_clock())

    async def on_stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()

    async def _run_clock(self) -> None:
        while True:
            try:
                self.ref.try_tell(_TICK)
            except Exception:
                pass  # still busy with the last tick
            await asyncio.sleep(self.interval)

    async def receive(self, message: Any) -> None:
        if message != _TICK:
            raise ValueError(f"{type(self).__name__} got {message!r}")
        try:
            await self.tick()
        except Exception as exc:
            if not is_db_transient(exc):
                raise
            self.ctx.db_unreachable()
            log.warning("%s: database unavailable (%s)", type(self).__name__, exc.__class__.__name__)

    async def tick(self) -> None:
        raise NotImplementedError


class Heartbeat(_Periodic):
    """Renews the lease of every job held, at a third of the lease: two missed beats still hold."""

    def __init__(self, ctx: PipelineContext) -> None:
        super().__init__(ctx)
        self.interval = ctx.config.heartbeat_s

    async def tick(self) -> None:
        self.ctx.metrics.in_flight = len(self.ctx.tracker)
        jobs = self.ctx.renewable()
        if not jobs:
            return
        kept = await self.ctx.queue.heartbeat(jobs, self.ctx.config.lease_s)
        lost = [j.id for j in jobs if j.id not in kept and self.ctx.tracker.holds(j)]
        if lost:
            # Another instance owns them now; our lease-checked writes will be refused. Keep the
            # slots until our own stages finish, so we never hold more work than we can do.
            log.warning("lost the lease on jobs %s; another instance is processing them", lost)


class Reaper(_Periodic):
    def __init__(self, ctx: PipelineContext) -> None:
        super().__init__(ctx)
        self.interval = ctx.config.reap_interval_s

    async def tick(self) -> None:
        held = self.ctx.renewable()
        if held:  # after an outage our own leases may have run out: renew them before reaping
            await self.ctx.queue.heartbeat(held, self.ctx.config.lease_s)
        reaped = await self.ctx.queue.reap(outage=self.ctx.lived_through_db_outage())
        if reaped:
            self.ctx.metrics.leases_reaped += sum(reaped.values())
            log.info("expired leases reaped: %s", reaped)
            self.ctx.listener.poke()
        self.ctx.metrics.queue = await self.ctx.queue.counts()
        for chore in self.ctx.config.housekeeping:
            try:
                await chore()
            except Exception as exc:  # someone else's sweep failing must not stop ours
                log.warning("housekeeping %s failed: %s", getattr(chore, "__name__", chore), exc)
