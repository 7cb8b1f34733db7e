"""The supervised pipeline that turns queued uploads into published variants.

Public surface:
- ``Pipeline(queue, listener, store, config, readiness=..., on_failed=...)``: start / drain / stop /
  close, ``metrics``. ``queue`` and ``listener`` implement ``ports.JobQueuePort``/``ListenerPort``.
- ``PipelineConfig``: plain values (workers, timeouts, the transcode callable...).
- ``PipelineMetrics``: counters for ``/metrics``.
- ``variant_key``, ``claim_prefix``: where a claim's renditions live in the object store.
- ``ClaimedJob``, ``JobQueuePort``, ``ListenerPort``: what the pipeline needs from the outside.

Built on ``actors.runtime``; imports asyncpg's exception classes (to tell an outage from a bug) but
never aiohttp, and never the server.
"""

from .config import IMMUTABLE, PipelineConfig, claim_prefix, variant_key
from .metrics import PipelineMetrics
from .ports import ClaimedJob, JobQueuePort, ListenerPort
from .system import DrainReport, Pipeline

__all__ = [
    "ClaimedJob", "DrainReport", "IMMUTABLE", "JobQueuePort", "ListenerPort", "Pipeline", "PipelineConfig",
    "PipelineMetrics", "claim_prefix", "variant_key",
]
