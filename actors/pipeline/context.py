"""What the pipeline actors share: the queue, the store, the jobs held, counters, and the one place
that turns a verdict into a lease-checked write (``settle``).

Actors are restarted from factories, so nothing here may live in an actor: a restarted stage finds
the jobs its predecessor dropped in the tracker and gives them back to the queue.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable

from .backoff import next_run_after, outage_delay

from .config import PipelineConfig
from .decisions import DEFER, FINAL, POISON, RETRY, Verdict, is_db_transient, stage_limits, stuck
from .metrics import PipelineMetrics
from .ports import ClaimedJob, JobQueuePort, ListenerPort
from .tracker import Tracker

log = logging.getLogger("actors.pipeline")

STUCK = "pipeline_stuck"

ReadinessHook = Callable[[str, bool], None]  # (reason, blocked)


class PipelineContext:
    def __init__(
        self,
        queue: JobQueuePort,
        store: Any,
        config: PipelineConfig,
        listener: ListenerPort,
        metrics: PipelineMetrics,
        readiness: ReadinessHook,
    ) -> None:
        self.queue = queue
        self.store = store
        self.config = config
        self.listener = listener
        self.metrics = metrics
        self.readiness = readiness
        self.tracker = Tracker(config.capacity, on_free=listener.poke)
        self.owner = config.owner
        self.draining = False
        self.pool_unavailable = False  # a pool rebuild is failing: claim nothing meanwhile
        self.refs: dict[str, Any] = {}  # actor name -> ActorRef, filled in by the Pipeline
        self._outage_since: float | None = None
        self._db_unreachable_at = float("-inf")
        self._stuck: list[int] = []
        self._rng = random.Random()

    def ref(self, name: str) -> Any:
        return self.refs[name]

    def renewable_ids(self) -> list[int]:
        """The held jobs whose leases may be renewed: those still within their stage's time limit.
        A job past it is not progressing, and renewing its lease would keep it from every other
        instance for as long as this process lives; readiness reports it meanwhile."""
        cfg = self.config
        limits = stage_limits(cfg.job_timeout_s, cfg.io_timeout_s, cfg.capacity)
        stages = self.tracker.stages()
        overdue = stuck(stages, limits, time.monotonic())
        if overdue != self._stuck:
            if overdue:
                log.error("jobs %s are stuck past their stage's time limit; no longer renewing their leases", overdue)
            self._stuck = overdue
            self.readiness(STUCK, bool(overdue))
        return sorted(job_id for job_id, _, _ in stages if job_id not in overdue)

    def observe(self, hook: Callable[..., None] | None, *args: Any) -> None:
        """Call a metrics observer; its failure is logged, never the job's problem."""
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:  # noqa: BLE001 - counting must not fail a transcode or a publish
            log.exception("metrics observer %r failed", hook)

    # -- outages: jobs put off while the store or database is down come back spread out --
    def outage_started(self) -> float:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
        return time.monotonic() - self._outage_since

    def outage_over(self) -> None:
        self._outage_since = None

    def db_unreachable(self) -> None:
        """A database call of the pipeline failed for want of the database."""
        self._db_unreachable_at = time.monotonic()

    def lived_through_db_outage(self) -> bool:
        """The database was unreachable within about a lease: leases that ran out meanwhile most
        likely did so because nobody could renew them, which is no fault of their jobs."""
        return time.monotonic() - self._db_unreachable_at < 2 * self.config.lease_s + self.config.reap_interval_s

    def renewable(self) -> list[ClaimedJob]:
        """The held claims whose leases may be renewed (see ``renewable_ids``)."""
        ids = set(self.renewable_ids())
        return [job for job in self.tracker.held_jobs() if job.id in ids]  # type: ignore[misc]

    async def settle(self, job: ClaimedJob, verdict: Verdict) -> None:
        """Write what happened to ``job`` (lease-checked) and free its slot, whatever happens."""
        cfg, m = self.config, self.metrics
        try:
            if verdict.kind in (FINAL, POISON):
                status = "dead" if verdict.kind == POISON else "failed"
                if await self.queue.fail_final(job, verdict.code, verdict.message, status=status):
                    if status == "dead":
                        m.jobs_dead += 1
                    else:
                        m.jobs_failed += 1
                    log.info("job %s (post %s) %s: %s", job.id, job.post_id, status, verdict.message)
                else:
                    m.jobs_lost += 1
            elif verdict.kind == RETRY:
                delay = next_run_after(job.attempts, cfg.retry_base_s, cfg.retry_cap_s, self._rng)
                outcome = await self.queue.fail_retry(job, verdict.code, verdict.message, delay)
                if outcome is None:
                    m.jobs_lost += 1
                elif outcome.status == "dead":
                    m.jobs_dead += 1
                    log.warning("job %s (post %s) dead after %d attempts: %s", job.id, job.post_id, outcome.attempts, verdict.message)
                else:
                    m.jobs_retried += 1
                    log.info("job %s retry in %.1fs: %s", job.id, delay, verdict.message)
            elif verdict.kind == DEFER:
                delay = outage_delay(self.outage_started(), cfg.retry_base_s / 2, cfg.retry_cap_s, self._rng)
                if await self.queue.defer([job], delay, verdict.code, verdict.message):
                    m.jobs_deferred += 1
                    log.info("job %s put off %.1fs: %s", job.id, delay, verdict.message)
            else:  # pragma: no cover - a programming error
                raise ValueError(f"unknown verdict {verdict.kind!r}")
        except Exception as exc:
            if not is_db_transient(exc):
                raise
            self.db_unreachable()
            # Cannot even record it: the lease runs out and the job is claimed again later.
            log.warning("could not record job %s (%s); its lease will expire and it will run again", job.id, exc)
        finally:
            self.tracker.release(job.id, job)

    async def give_back(self, jobs: list[ClaimedJob], code: str, message: str) -> None:
        """Jobs dropped by a stage that restarted: back to the queue at once, attempt returned."""
        if not jobs:
            return
        try:
            await self.queue.defer(jobs, 0.0, code, message)
            self.metrics.jobs_deferred += len(jobs)
        except Exception as exc:
            if not is_db_transient(exc):
                raise
            self.db_unreachable()
            log.warning("could not give back %d jobs (%s); their leases will expire", len(jobs), exc)
        finally:
            for job in jobs:
                self.tracker.release(job.id, job)
