"""What a whole actor tree shares: refs by path, restart counts, and the event hook.

Refs live here rather than in a supervisor so that when a parent restarts a whole sub-tree (a new
Supervisor instance from the factory) the actors below keep the same refs and mailboxes.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal

from .actor import ActorRef

if TYPE_CHECKING:
    from .supervisor import ChildSpec

log = logging.getLogger("actors")

EventKind = Literal["started", "crashed", "restarted", "escalated", "stopped"]


@dataclass(frozen=True)
class ActorEvent:
    """One lifecycle change, for logs, metrics and readiness.

    ``path`` is "" for the root supervisor. ``reason`` is the exception for crashed/escalated;
    ``delay`` is the backoff slept before a restart.
    """

    kind: EventKind
    path: str
    reason: BaseException | None = None
    delay: float | None = None


EventHook = Callable[[ActorEvent], None]


class Registry:
    def __init__(self, on_event: EventHook | None = None) -> None:
        self.on_event = on_event
        self.specs: dict[str, ChildSpec] = {}
        self.kinds: dict[str, str] = {}  # path -> "actor" | "supervisor", once its factory ran
        self.refs: dict[str, ActorRef] = {}
        self.restarts: Counter[str] = Counter()

    def declare(self, path: str, spec: ChildSpec) -> None:
        self.specs[path] = spec

    def set_kind(self, path: str, kind: str) -> None:
        self.kinds[path] = kind
        if kind == "supervisor" and path in self.refs:
            self.refs[path]._retire()  # someone asked for a ref before we knew: it never answers

    def ref(self, path: str) -> ActorRef:
        """The one ref for an actor path, created on first use (also before the actor starts)."""
        existing = self.refs.get(path)
        if existing is not None:
            return existing
        spec = self.specs.get(path)
        if spec is None:
            raise LookupError(f"no actor at {path!r}")
        if self.kinds.get(path) == "supervisor":
            raise LookupError(f"{path!r} is a supervisor, not an actor")
        ref = self.refs[path] = ActorRef(path, spec.mailbox_size)
        return ref

    def retire(self, prefix: str) -> None:
        """Close the mailboxes of ``prefix`` and everything below it: nobody will answer them."""
        for path, ref in self.refs.items():
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                ref._retire()

    def emit(self, kind: EventKind, path: str, reason: BaseException | None = None,
             delay: float | None = None) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(ActorEvent(kind, path, reason, delay))
        except Exception:
            log.exception("on_event hook failed for %s %s", kind, path)
