"""A one-line progress bar on stderr, so stdout stays the clean table an operator can redirect.

On a terminal it redraws in place; elsewhere (CI logs, pipes) it writes one line per phase, since a
stream of carriage returns is unreadable in a log file.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.started = time.monotonic()
        if self.live:
            self._draw()

    def advance(self, step: int = 1) -> None:
        self.done = min(self.total, self.done + step)
        if self.live:
            self._draw()

    def _draw(self) -> None:
        filled = WIDTH * self.done // self.total
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(f"\r{self.label:<28} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s")
        self.stream.flush()

    def close(self, note: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        if self.live:
            self._draw()
            self.stream.write(f" {note}\n")
        else:
            self.stream.write(f"{self.label}: {self.done}/{self.total} in {elapsed:.1f}s {note}".rstrip() + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def say(message: str, enabled: bool = True) -> None:
    """A status line between bars (server start, account set-up)."""
    if enabled:
        print(message, file=sys.stderr, flush=True)
