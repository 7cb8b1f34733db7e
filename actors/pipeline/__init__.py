"""The supervised pipeline that turns queued uploads into published variants.

Public surface:
- ``Pipeline(pool, store, config, readiness=...)``: start / drain / stop / close, ``metrics``.
- ``PipelineConfig``: plain values (workers, timeouts, the transcode callable...).
- ``PipelineMetrics``: counters for ``/metrics``.
- ``variant_key``: where a rendition lives in the object store.

Built on ``actors.runtime``; imports asyncpg (through ``server.jobs``) but never aiohttp.
"""

from .config import IMMUTABLE, PipelineConfig, variant_key
from .metrics import PipelineMetrics
from .system import DrainReport, Pipeline

__all__ = ["DrainReport", "IMMUTABLE", "Pipeline", "PipelineConfig", "PipelineMetrics", "variant_key"]
