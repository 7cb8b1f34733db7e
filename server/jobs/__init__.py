"""The durable job queue: PostgreSQL rows are the truth, instances hold leases.

- ``JobQueue``: the pipeline's ``JobQueuePort`` on PostgreSQL: claim (SKIP LOCKED, fair across
  accounts, attempts counted at claim), heartbeat, claim-fenced fail/defer/publish, release on
  drain, reap expired leases, retention, operator retry.
- ``JobListener``: LISTEN/NOTIFY wake-ups with reconnect; always paired with a poll.
- ``next_run_after``: exponential backoff with full jitter; ``outage_delay`` for outages.
"""

from actors.pipeline.backoff import backoff_ceiling, next_run_after, outage_delay
from actors.pipeline.ports import ClaimedJob, RetryOutcome
from .listen import CHANNEL, JobListener
from .queue import JobQueue

__all__ = [
    "CHANNEL", "ClaimedJob", "JobListener", "JobQueue", "RetryOutcome", "backoff_ceiling", "next_run_after",
    "outage_delay",
]
