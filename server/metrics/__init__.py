"""What the service counts and how Prometheus reads it, through ``prometheus-client``.

Public surface: ``Metrics`` (one registry per app: HTTP, transcode and publish histograms, plus the
queue, pool and pipeline numbers read at scrape time), ``route_label`` and ``render`` (pure).
The ``/metrics`` endpoint itself lives in ``server/http/metrics.py``.
"""

from .registry import Metrics, route_label
from .state import StateSnapshot, render

__all__ = ["Metrics", "StateSnapshot", "render", "route_label"]
