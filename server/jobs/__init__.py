"""The durable job queue: PostgreSQL rows are the truth, instances hold leases.

- ``JobQueue``: claim (SKIP LOCKED, attempts counted at claim), heartbeat, lease-checked
  succeed/fail/defer, release on drain, reap expired leases, operator retry.
- ``JobListener``: LISTEN/NOTIFY wake-ups with reconnect; always paired with a poll.
- ``next_run_after``: exponential backoff with full jitter; ``outage_delay`` for outages.
"""

from .backoff import backoff_ceiling, next_run_after, outage_delay
from .listen import CHANNEL, JobListener
from .queue import ClaimedJob, JobQueue, RetryOutcome

__all__ = [
    "CHANNEL", "ClaimedJob", "JobListener", "JobQueue", "RetryOutcome", "backoff_ceiling", "next_run_after",
    "outage_delay",
]
