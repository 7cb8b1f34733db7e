"""The jobs this instance holds right now, from claim until the final write.

Shared by the actors (the feeder counts free slots, the heartbeat renews leases, a restarted stage
finds the jobs it dropped). Slots free up through ``release``, which wakes the feeder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

FETCH, WAIT, POOL, PUBLISH = "fetch", "wait", "pool", "publish"


@dataclass
class Held:
    job: object  # server.jobs.ClaimedJob
    stage: str = FETCH
    since: float = field(default_factory=time.monotonic)


class Tracker:
    def __init__(self, capacity: int, on_free: Callable[[], None] = lambda: None) -> None:
        self.capacity = capacity
        self._held: dict[int, Held] = {}
        self._on_free = on_free

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._held

    @property
    def free(self) -> int:
        return max(0, self.capacity - len(self._held))

    def holds(self, job: object) -> bool:
        """This very claim is still held: a message about a job given back (or given back and
        claimed again, which makes a new claim object) is stale and must be dropped."""
        held = self._held.get(job.id)  # type: ignore[attr-defined]
        return held is not None and held.job is job

    def ids(self) -> list[int]:
        return sorted(self._held)

    def add(self, job: object) -> None:
        self._held[job.id] = Held(job)  # type: ignore[attr-defined]

    def move(self, job_id: int, stage: str) -> None:
        held = self._held.get(job_id)
        if held is not None:
            held.stage, held.since = stage, time.monotonic()

    def release(self, job_id: int, claim: object | None = None) -> None:
        """Free the slot of ``job_id``; given ``claim``, only if that very claim is still held (a
        stale stage finishing late must not free the slot of the job's new claim)."""
        held = self._held.get(job_id)
        if held is None or (claim is not None and held.job is not claim):
            return
        del self._held[job_id]
        self._on_free()

    def held_jobs(self) -> list[object]:
        return [h.job for h in self._held.values()]

    def stages(self) -> list[tuple[int, str, float]]:
        """(id, stage, entered_at) of every job held."""
        return [(job_id, h.stage, h.since) for job_id, h in self._held.items()]

    def in_stages(self, *stages: str) -> list[object]:
        return [h.job for h in self._held.values() if h.stage in stages]
