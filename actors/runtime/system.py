"""The root of an actor tree: start it, look refs up by path, stop it in order."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Sequence

from .actor import ActorRef
from .registry import EventHook, Registry
from .supervisor import ChildSpec, ChildStatus, Supervisor

log = logging.getLogger("actors")

EscalateHook = Callable[[BaseException], "Awaitable[None] | None"]


class ActorSystem:
    """``ActorSystem(children, **supervisor_kwargs)`` wraps a root Supervisor.

    When the root itself exceeds its restart intensity every actor is already stopped; the system
    then closes all mailboxes (senders get ActorStopped), records ``exit_reason``, logs, and calls
    ``on_escalate(reason)`` (sync or async) so the process can decide: exit non-zero, go unready.
    """

    def __init__(self, children: Sequence[ChildSpec], *, on_escalate: EscalateHook | None = None,
                 on_event: EventHook | None = None, name: str = "root",
                 **supervisor_kwargs: Any) -> None:
        self._registry = Registry(on_event)
        self._root = Supervisor(name, children, **supervisor_kwargs)
        for spec in children:  # so factories can look up siblings before they have started
            self._registry.declare(spec.name, spec)
        self._on_escalate = on_escalate
        self._escalation: asyncio.Future[Any] | None = None
        self._stopped = asyncio.Event()
        self._stopping = False
        self._started = False
        self.exit_reason: BaseException | None = None

    async def start(self) -> None:
        """Start every child in order. Raises ChildStartError if one fails, ActorStopped if stop()
        was called meanwhile; either way nothing is left running."""
        if self._started:
            raise RuntimeError("ActorSystem.start() called twice")
        self._started = True
        try:
            await self._root.start(self._registry, "", self._root_exited)
        except BaseException:
            self._registry.retire("")  # nothing runs: senders must not queue into the void
            self._stopped.set()
            raise
        self._registry.emit("started", "")

    def ref(self, path: str) -> ActorRef:
        """Ref of the actor at ``"name"`` or ``"sup/child"``; stable for the system's life."""
        return self._registry.ref(path)

    def status(self) -> list[ChildStatus]:
        """Every child, depth first in start order: alive, restart count, mailbox depth."""
        return list(self._root.status())

    @property
    def running(self) -> bool:
        return self._started and not self._stopped.is_set()

    async def stop(self, timeout_per_child: float | None = None) -> None:
        """Stop children in reverse start order, recursively; each gets its spec's
        ``shutdown_timeout`` (or ``timeout_per_child`` for every child at every level) to
        finish its current message and run on_stop before it is cancelled."""
        if self._stopping or self._stopped.is_set():
            await self._stopped.wait()
            return
        self._stopping = True
        try:
            await self._root.shutdown(timeout_per_child)
        finally:
            self._registry.retire("")
            self._stopped.set()
        self._registry.emit("stopped", "")

    async def wait_stopped(self) -> BaseException | None:
        """Wait until stopped or given up; return the root's exit reason (None after stop())."""
        await self._stopped.wait()
        if self._escalation is not None:
            await asyncio.wait({self._escalation})
        return self.exit_reason

    def _root_exited(self, root: Any, reason: BaseException | None) -> None:
        self.exit_reason = reason
        self._registry.retire("")
        self._stopped.set()
        log.error("actor system gave up: %s", reason)
        if self._on_escalate is None or reason is None:
            return
        try:
            outcome = self._on_escalate(reason)
        except Exception:
            log.exception("on_escalate failed")
            return
        if inspect.isawaitable(outcome):
            self._escalation = asyncio.ensure_future(outcome)
