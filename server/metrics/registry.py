"""One registry per app (tests build many apps in one process; the library's global registry would
mix them): HTTP traffic by route template, transcode cost per variant, upload-to-published latency,
and the scrape-time state of ``state.py``."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

from .state import StateCollector

# ``*_created`` series (one per label set) double the output and no dashboard of ours reads them.
disable_created_metrics()

UNMATCHED = "unmatched"  # 404s and scans: one label value, whatever path was asked for
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TRANSCODE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_PUBLISH_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


def route_label(request: Any) -> str:
    """The route template (``/api/v1/posts/{post_id}``), never the raw path: raw paths would make
    one time series per post id. Requests no route matched share ``unmatched``."""
    match_info = getattr(request, "_match_info", None)  # absent on requests the parser refused
    resource = getattr(getattr(match_info, "route", None), "resource", None)
    canonical = getattr(resource, "canonical", None)
    return canonical if canonical else UNMATCHED


def method_label(method: str, route: str) -> str:
    """aiohttp accepts any token as a method; only the usual ones get a series of their own."""
    return method if method in _METHODS or route != UNMATCHED else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.state = StateCollector()
        self.registry.register(self.state)
        labels = ("method", "route", "status")
        self.http_requests = Counter(
            "imagepipe_http_requests", "HTTP requests answered, by route template and status",
            labels, registry=self.registry,
        )
        self.http_seconds = Histogram(
            "imagepipe_http_request_duration_seconds",
            "Time from the request's arrival to its last byte sent, by route template and status",
            labels, registry=self.registry,
        )
        self.transcode_wall = Histogram(
            "imagepipe_transcode_wall_seconds",
            "Wall time in a pool worker per variant (all its formats); variant=decode is the shared decode",
            ("variant",), buckets=_TRANSCODE_BUCKETS, registry=self.registry,
        )
        self.transcode_cpu = Histogram(
            "imagepipe_transcode_cpu_seconds",
            "CPU time (all threads of the worker) per variant; variant=decode is the shared decode",
            ("variant",), buckets=_TRANSCODE_BUCKETS, registry=self.registry,
        )
        self.upload_to_published = Histogram(
            "imagepipe_upload_to_published_seconds",
            "From upload/complete (job queued) to the post published, retries and waits included",
            buckets=_PUBLISH_BUCKETS, registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method_label(method, route), route, str(status))
        self.http_requests.labels(*labels).inc()
        self.http_seconds.labels(*labels).observe(seconds)

    def observe_transcode(self, result: Any) -> None:
        """A successful transcode's per-step timings (``TranscodeResult.timings``)."""
        for variant, wall_s, cpu_s in getattr(result, "timings", ()):
            self.transcode_wall.labels(variant).observe(wall_s)
            self.transcode_cpu.labels(variant).observe(cpu_s)

    def observe_published(self, seconds: float) -> None:
        self.upload_to_published.observe(max(0.0, seconds))
