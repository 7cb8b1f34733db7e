"""Readiness as a set of named reasons not to take work; ready when the set is empty.

Each component adds or clears its own reason (``starting``, ``draining``, ``pool_broken``...), so
``/readyz`` tells the truth without knowing who the components are.
"""

from __future__ import annotations


class Readiness:
    def __init__(self) -> None:
        self._reasons: set[str] = {"starting"}

    def block(self, reason: str) -> None:
        self._reasons.add(reason)

    def clear(self, reason: str) -> None:
        self._reasons.discard(reason)

    @property
    def ready(self) -> bool:
        return not self._reasons

    @property
    def reasons(self) -> list[str]:
        return sorted(self._reasons)
