"""Exceptions a sender or a supervisor's parent can see."""

from __future__ import annotations


class MailboxFull(Exception):
    """``try_tell`` found no room; the caller decides whether to wait (``tell``) or shed load."""


class ActorStopped(Exception):
    """The actor behind a ref is gone for good (not restarting), or was killed mid-message."""


class RestartIntensityExceeded(Exception):
    """A supervisor restarted children too often and gave up; its parent sees this as a crash.

    The triggering child's exit reason is chained as ``__cause__``.
    """

    def __init__(self, supervisor: str, max_restarts: int, max_seconds: float) -> None:
        super().__init__(
            f"supervisor {supervisor!r} exceeded {max_restarts} restarts in {max_seconds}s"
        )
        self.supervisor = supervisor


class ChildStartError(Exception):
    """A child's factory or ``on_start`` failed while its supervisor was starting."""

    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(f"child {path!r} failed to start: {cause!r}")
        self.path = path
