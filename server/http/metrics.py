"""``GET /metrics``: Prometheus text exposition of the queue and the pipeline.

Job counts come from the database on every scrape (true for every instance, including API-only
ones); the pipeline's counters are this process's own.
"""

from __future__ import annotations

from typing import Any, Iterable

from aiohttp import web

from ..appkeys import DB, PIPELINE, READINESS
from ..db import q

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "dead")

# name, type, help, attribute of PipelineMetrics
_PIPELINE = (
    ("imagepipe_pipeline_in_flight", "gauge", "Jobs held by this instance (claimed, not yet written)", "in_flight"),
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


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def render(job_counts: dict[str, int], ready: bool, pipeline: dict[str, float] | None) -> str:
    """The exposition text; pure so the format is tested without a server."""
    lines = _family(
        "imagepipe_jobs", "gauge", "Jobs in the queue by status",
        ((f'{{status="{s}"}}', job_counts.get(s, 0)) for s in JOB_STATUSES),
    )
    depth = job_counts.get("queued", 0) + job_counts.get("running", 0)
    lines += _family("imagepipe_queue_depth", "gauge", "Jobs waiting or running (all instances)", [("", depth)])
    lines += _family("imagepipe_ready", "gauge", "1 when /readyz would answer 200", [("", 1 if ready else 0)])
    if pipeline is not None:
        for name, kind, help_text, attr in _PIPELINE:
            lines += _family(name, kind, help_text, [("", pipeline[attr])])
    return "\n".join(lines) + "\n"


def pipeline_numbers(pipeline: Any) -> dict[str, float]:
    m = pipeline.metrics
    numbers = {attr: float(getattr(m, attr, 0)) for _, _, _, attr in _PIPELINE}
    numbers["in_flight"] = float(pipeline.in_flight)
    return numbers


async def metrics(request: web.Request) -> web.Response:
    async with request.app[DB].acquire(timeout=5) as conn:
        rows = await conn.fetch(q("jobs_counts"), timeout=5)
    pipeline = request.app.get(PIPELINE)
    text = render(
        {r["status"]: r["n"] for r in rows},
        request.app[READINESS].ready,
        pipeline_numbers(pipeline) if pipeline is not None else None,
    )
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
