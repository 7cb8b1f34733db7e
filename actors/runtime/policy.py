"""Supervision decisions as plain values and functions, kept apart from asyncio so each rule is
unit-tested alone: should a child come back, which siblings go with it, has the supervisor restarted
too often (OTP restart intensity), and how long to wait first (the backoff OTP lacks)."""

from __future__ import annotations

from collections import deque
from typing import Literal, Sequence, get_args

RestartType = Literal["permanent", "transient", "temporary"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]

RESTART_TYPES: tuple[str, ...] = get_args(RestartType)
STRATEGIES: tuple[str, ...] = get_args(Strategy)


def should_restart(restart: RestartType, abnormal: bool) -> bool:
    """OTP rule: permanent always, transient only after a crash, temporary never."""
    if restart == "permanent":
        return True
    if restart == "transient":
        return abnormal
    if restart == "temporary":
        return False
    raise ValueError(f"unknown restart type {restart!r}")


def restart_group(strategy: Strategy, start_order: Sequence[str], failed: str) -> list[str]:
    """Names restarted together with ``failed``, in start order.

    one_for_all restarts everything because the siblings depend on each other; rest_for_one
    restarts the failed child and those started after it, which depend on it.
    """
    if failed not in start_order:
        raise ValueError(f"{failed!r} is not a child")
    if strategy == "one_for_one":
        return [failed]
    if strategy == "one_for_all":
        return list(start_order)
    if strategy == "rest_for_one":
        return list(start_order[start_order.index(failed):])
    raise ValueError(f"unknown strategy {strategy!r}")


class RestartIntensity:
    """At most ``max_restarts`` restarts within any ``max_seconds`` window (sliding).

    Same arithmetic as OTP's ``add_restart``: keep restarts no older than ``now - max_seconds``,
    add this one, and the supervisor gives up when more than ``max_restarts`` remain.
    ``max_restarts=0`` means the first crash already escalates.
    """

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        if max_restarts < 0:
            raise ValueError("max_restarts must be >= 0")
        if max_seconds <= 0:
            raise ValueError("max_seconds must be > 0")
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._times: deque[float] = deque()

    def record(self, now: float) -> bool:
        """Count one restart at ``now``; False means the intensity is exceeded (escalate)."""
        threshold = now - self.max_seconds
        while self._times and self._times[0] < threshold:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self.max_restarts

    @property
    def recent(self) -> int:
        return len(self._times)


class Backoff:
    """Exponential delay before a restart: ``initial``, doubling, capped at ``maximum``.

    A child that stayed up for ``reset_after`` seconds since its last (re)start is considered
    healthy again, so its next crash starts over at ``initial``. Without this a supervisor whose
    intensity window is wide would restart a flapping child in a hot loop.
    """

    def __init__(self, initial: float, maximum: float, reset_after: float) -> None:
        if initial < 0 or maximum < initial:
            raise ValueError("need 0 <= backoff_initial <= backoff_max")
        if reset_after <= 0:
            raise ValueError("backoff reset period must be > 0")
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self._attempt = 0
        self._up_since: float | None = None

    def next_delay(self, now: float) -> float:
        """Delay for a restart decided at ``now`` (the crash time); advances the sequence."""
        if self._up_since is not None and now - self._up_since >= self.reset_after:
            self._attempt = 0
        delay = self.initial * (2.0 ** min(self._attempt, 62))
        self._attempt += 1
        return min(delay, self.maximum)

    def up(self, now: float) -> None:
        """The child is running again as of ``now``; the quiet period is measured from here."""
        self._up_since = now
