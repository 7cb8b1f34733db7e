"""Retry delays: exponential ceiling with a cap, full jitter drawn from the given generator."""

from __future__ import annotations

import random

from server.jobs import backoff_ceiling, next_run_after, outage_delay


class _Edges:
    """Draws the top of the range, so the ceiling itself is observable."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_ceiling_doubles_then_caps() -> None:
    assert [backoff_ceiling(n, 1.0, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_ceiling(10_000, 0.5, 300.0) == 300.0  # no overflow for huge attempt numbers
    assert backoff_ceiling(0, 2.0, 10.0) == 2.0


def test_full_jitter_stays_within_zero_and_ceiling() -> None:
    rng = random.Random(7)
    delays = [next_run_after(4, 1.0, 60.0, rng) for _ in range(500)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    # Spread over the whole range, not bunched at the ceiling.
    assert min(delays) < 1.0 and max(delays) > 7.0
    assert next_run_after(4, 1.0, 60.0, _Edges()) == 8.0
    assert next_run_after(20, 1.0, 60.0, _Edges()) == 60.0



def test_outage_delay_grows_with_the_outage_not_with_the_job_count() -> None:
    assert outage_delay(0.0, 1.0, 60.0, _Edges()) == 1.0  # a blip: retry within the base
    assert outage_delay(12.5, 1.0, 60.0, _Edges()) == 12.5
    assert outage_delay(3600.0, 1.0, 60.0, _Edges()) == 60.0
    rng = random.Random(3)
    assert all(0.0 <= outage_delay(5.0, 1.0, 60.0, rng) <= 5.0 for _ in range(200))
