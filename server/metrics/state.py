"""Numbers read at scrape time: the queue by status (from PostgreSQL, so true on every instance,
API-only ones included), readiness, and this instance's pipeline counters and pool gauges.

The names predate ``prometheus-client`` (dashboards and ``native_bench/promtext.py`` read them)
and are kept as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "dead")

# name, type, help, attribute of PipelineMetrics (or of the pipeline itself, see pipeline_numbers)
PIPELINE_FAMILIES = (
    ("imagepipe_pipeline_in_flight", "gauge", "Jobs held by this instance (claimed, not yet written)", "in_flight"),
    ("imagepipe_pool_workers", "gauge", "Transcode processes this instance's pool runs", "pool_workers"),
    ("imagepipe_pool_busy_workers", "gauge", "Pool workers running a transcode now", "pool_busy"),
    ("imagepipe_jobs_claimed_total", "counter", "Jobs claimed by this instance", "jobs_claimed"),
    ("imagepipe_jobs_succeeded_total", "counter", "Jobs published by this instance", "jobs_succeeded"),
    ("imagepipe_jobs_failed_total", "counter", "Jobs failed for good (bad image)", "jobs_failed"),
    ("imagepipe_jobs_dead_total", "counter", "Jobs given up (attempts spent or poison)", "jobs_dead"),
    ("imagepipe_jobs_retried_total", "counter", "Failed attempts queued again with backoff", "jobs_retried"),
    ("imagepipe_jobs_deferred_total", "counter", "Jobs put off without using an attempt (outages)", "jobs_deferred"),
    ("imagepipe_jobs_lost_total", "counter", "Jobs whose lease another instance took over", "jobs_lost"),
    ("imagepipe_jobs_timed_out_total", "counter", "Transcodes stopped for running over the timeout", "jobs_timed_out"),
    ("imagepipe_pool_restarts_total", "counter", "Process pool rebuilds (break, timeout, recycle)", "pool_restarts"),
    ("imagepipe_pool_breaks_total", "counter", "Times a pool worker died under a job", "pool_breaks"),
    ("imagepipe_leases_reaped_total", "counter", "Expired leases returned to the queue", "leases_reaped"),
)


@dataclass
class StateSnapshot:
    job_counts: dict[str, int] = field(default_factory=dict)
    ready: bool = False
    pipeline: dict[str, float] | None = None  # None on an API-only instance


def pipeline_numbers(pipeline: Any) -> dict[str, float]:
    """The values PIPELINE_FAMILIES name, read from a running ``actors.pipeline.Pipeline``."""
    m = pipeline.metrics
    numbers = {attr: float(getattr(m, attr, 0)) for _, _, _, attr in PIPELINE_FAMILIES}
    numbers["in_flight"] = float(pipeline.in_flight)
    numbers["pool_workers"] = float(pipeline.config.workers)
    return numbers


class StateCollector(Collector):
    """Yields the last snapshot; the endpoint refreshes it (an async database read) right before
    rendering, since a collector's ``collect`` cannot await."""

    def __init__(self) -> None:
        self.snapshot = StateSnapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        jobs = GaugeMetricFamily("imagepipe_jobs", "Jobs in the queue by status", labels=["status"])
        for status in JOB_STATUSES:
            jobs.add_metric([status], s.job_counts.get(status, 0))
        yield jobs
        depth = s.job_counts.get("queued", 0) + s.job_counts.get("running", 0)
        yield GaugeMetricFamily("imagepipe_queue_depth", "Jobs waiting or running (all instances)", value=depth)
        yield GaugeMetricFamily("imagepipe_ready", "1 when /readyz would answer 200", value=1 if s.ready else 0)
        if s.pipeline is None:
            return
        for name, kind, help_text, attr in PIPELINE_FAMILIES:
            family = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            yield family(name, help_text, value=s.pipeline.get(attr, 0.0))


def render(snapshot: StateSnapshot) -> str:
    """The exposition text of a snapshot alone; pure, so the names are tested without a server."""
    registry = CollectorRegistry(auto_describe=False)
    collector = StateCollector()
    collector.snapshot = snapshot
    registry.register(collector)
    return generate_latest(registry).decode()
