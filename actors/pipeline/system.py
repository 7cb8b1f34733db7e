"""The pipeline as one object: build the actor tree, start it, drain it, stop it.

    feeder ──ClaimedJob──> transcoder (owns the process pool) ──Publish──> publisher
    heartbeat (renews leases)        reaper (expired leases, housekeeping, queue counts)

Drain (SIGTERM): the feeder stops claiming; jobs already held get ``drain_timeout_s`` to finish;
then the actors stop (the pool's workers are killed if still busy) and whatever is left is
released to the queue with its attempt given back, for this or another instance to redo.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from actors.runtime import ActorSystem, ChildSpec

from .config import PipelineConfig
from .context import PipelineContext
from .feeder import Feeder
from .metrics import PipelineMetrics
from .periodic import Heartbeat, Reaper
from .ports import JobQueuePort, ListenerPort
from .publisher import Publisher
from .transcoder import TranscodeSupervisor

log = logging.getLogger("actors.pipeline")

DRAINING = "draining"
FAILED = "pipeline_failed"
# Once the drain timeout has passed, whatever is still running is handed back anyway: each actor
# gets this long to finish, not its own shutdown_timeout (added one after another, those would
# keep a SIGTERMed server up for a minute past its drain timeout).
STOP_GRACE_S = 2.0
# Releasing the leases is a courtesy (they expire otherwise): a dead database must not hold the exit.
RELEASE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DrainReport:
    finished: bool  # every held job finished within the timeout
    released: int  # jobs handed back to the queue
    seconds: float


def _ignore(reason: str, blocked: bool) -> None:
    pass


class Pipeline:
    def __init__(
        self,
        queue: JobQueuePort,
        listener: ListenerPort,
        store: Any,
        config: PipelineConfig,
        *,
        readiness: Callable[[str, bool], None] = _ignore,
        on_failed: Callable[[], None] | None = None,
    ) -> None:
        if config.transcode is None:
            raise ValueError("PipelineConfig.transcode is required (e.g. actors.transcode.transcode)")
        self.config = config
        self.metrics = PipelineMetrics()
        self.queue = queue
        self.listener = listener
        self._readiness = readiness
        self._on_failed = on_failed
        self.ctx = PipelineContext(self.queue, store, config, self.listener, self.metrics, readiness)
        cap = config.capacity
        self.system = ActorSystem(
            [
                ChildSpec("publisher", lambda: Publisher(self.ctx), mailbox_size=cap + 1, shutdown_timeout=10.0),
                ChildSpec("transcoder", lambda: TranscodeSupervisor(self.ctx), mailbox_size=3 * cap + 8, shutdown_timeout=15.0),
                ChildSpec("feeder", lambda: Feeder(self.ctx), mailbox_size=2),
                ChildSpec("heartbeat", lambda: Heartbeat(self.ctx), mailbox_size=2),
                ChildSpec("reaper", lambda: Reaper(self.ctx), mailbox_size=2),
            ],
            strategy="one_for_one",
            max_restarts=5,
            max_seconds=30.0,
            on_escalate=self._gave_up,
        )
        for name in ("publisher", "transcoder", "feeder", "heartbeat", "reaper"):
            self.ctx.refs[name] = self.system.ref(name)

    @property
    def owner(self) -> str:
        return self.config.owner

    @property
    def in_flight(self) -> int:
        return len(self.ctx.tracker)

    async def start(self) -> None:
        self.listener.start()
        try:
            await self.system.start()
        except BaseException:
            await self.listener.stop()
            raise

    async def worker_pids(self) -> list[int]:
        """The pool's worker processes (tests kill them; operators may want to see them)."""
        return await self.ctx.ref("transcoder").ask("worker_pids", timeout=5.0)

    def stop_claiming(self) -> None:
        """The first step of a drain, taken as soon as SIGTERM arrives (before HTTP winds down)."""
        self.ctx.draining = True
        self._readiness(DRAINING, True)

    async def drain(self, timeout: float | None = None) -> bool:
        """Stop claiming and wait for held jobs; True if all finished in time."""
        self.stop_claiming()
        deadline = time.monotonic() + (self.config.drain_timeout_s if timeout is None else timeout)
        # A system that gave up (escalation) will finish nothing more: do not wait for it.
        while len(self.ctx.tracker) and self.system.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return not len(self.ctx.tracker)

    async def stop(self, grace: float | None = None) -> int:
        """Stop every actor (each within ``grace`` if given) and release the leases of unfinished
        jobs; returns how many."""
        self.ctx.draining = True
        await self.system.stop(grace)
        await self.listener.stop()
        try:
            return await asyncio.wait_for(self.queue.release(self.owner), RELEASE_TIMEOUT_S)
        except Exception as exc:  # database gone: the leases simply expire
            log.warning("could not release leases on stop (%s); they will expire", exc)
            return 0

    async def close(self, timeout: float | None = None) -> DrainReport:
        started = time.monotonic()
        finished = await self.drain(timeout)
        released = await self.stop(None if finished else STOP_GRACE_S)
        report = DrainReport(finished, released, time.monotonic() - started)
        log.info(
            "pipeline drained in %.2fs: %s, %d job(s) released to the queue",
            report.seconds, "all held jobs finished" if finished else "timeout reached", released,
        )
        return report

    async def _gave_up(self, reason: BaseException) -> None:
        # Every actor is stopped, so nothing here will finish the jobs we hold: hand them back now
        # rather than when their leases expire, so another instance (or our restart) takes them at
        # once. Reaped, not released: the attempt stays used, in case a job is what kept crashing us.
        log.error("pipeline stopped after repeated failures: %s", reason)
        self._readiness(FAILED, True)
        try:
            handed_back = await asyncio.wait_for(self.queue.reap(dead_owner_prefix=self.owner), RELEASE_TIMEOUT_S)
            log.warning("pipeline gave up; its held jobs went back to the queue: %s", handed_back)
        except Exception as exc:  # database gone too: the leases simply expire
            log.warning("could not hand back held jobs (%s); their leases will expire", exc)
        # Like an OTP application whose top supervisor gave up: the process goes too, so whatever
        # supervises it (systemd's Restart=on-failure, an orchestrator) starts a fresh one.
        if self._on_failed is not None:
            self._on_failed()
