"""Retry delays: exponential backoff with full jitter (pure, unit-tested).

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of many jobs
that failed together, e.g. in one store outage, so they do not all come back in the same second.
"""

from __future__ import annotations

import random
from typing import Protocol


class _Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def backoff_ceiling(attempt: int, base: float, cap: float) -> float:
    """The largest delay for the ``attempt``-th retry (1-based): base, 2*base, 4*base... up to cap."""
    if attempt < 1:
        attempt = 1
    # Bounded exponent: 2**1000 would overflow a float long before the cap matters.
    return min(cap, base * 2 ** min(attempt - 1, 62))


def next_run_after(attempt: int, base: float, cap: float, rng: _Uniform | None = None) -> float:
    """Seconds from now until the ``attempt``-th retry may run."""
    return (rng or random).uniform(0.0, backoff_ceiling(attempt, base, cap))


def outage_delay(elapsed_s: float, base: float, cap: float, rng: _Uniform | None = None) -> float:
    """Seconds to put a job off during an outage (store or database down): up to as long as the
    outage has lasted so far, so a short blip retries promptly and a long one backs off, and many
    jobs deferred together come back spread out. Attempts are not involved: an outage is not the
    job's fault and must never make it dead."""
    return (rng or random).uniform(0.0, min(cap, max(base, elapsed_s)))
