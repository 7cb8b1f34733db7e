"""Counters the pipeline keeps for ``/metrics``: plain attributes, read without locks (one loop)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PipelineMetrics:
    jobs_claimed: int = 0
    jobs_succeeded: int = 0
    jobs_failed: int = 0  # final verdicts on bad images
    jobs_dead: int = 0  # gave up: attempts spent or poison
    jobs_retried: int = 0  # failed an attempt, queued again with backoff
    jobs_deferred: int = 0  # sent back without using an attempt (outage, restart of a stage)
    jobs_lost: int = 0  # our lease was taken over; another instance finishes it
    jobs_timed_out: int = 0
    pool_restarts: int = 0  # pool rebuilt after a break, a timeout kill or a recycle
    pool_breaks: int = 0
    leases_reaped: int = 0
    in_flight: int = 0
    pool_busy: int = 0
    queue: dict[str, int] = field(default_factory=dict)  # job counts by status, refreshed periodically

    @property
    def queue_depth(self) -> int:
        return self.queue.get("queued", 0) + self.queue.get("running", 0)
