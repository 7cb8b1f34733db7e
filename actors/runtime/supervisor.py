"""OTP-style supervisor: child specs, restart types, strategies, intensity, plus restart backoff.

Exits are handled one at a time by the supervisor's own task (as an OTP supervisor handles its
'EXIT' messages), so decisions never interleave. The backoff sleep happens in that task too: a
second child crashing meanwhile waits its turn, which is exactly the slowing-down we want.

Deviation from OTP, on purpose: a supervisor that exceeds its intensity exits with
RestartIntensityExceeded, an abnormal reason, so its parent restarts it even if the spec is
transient (OTP exits with ``shutdown``, which a transient parent spec treats as normal).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator, Sequence, Union

from .actor import Actor, ExitCallback, _await_cancelled, _Incarnation
from .errors import ActorStopped, ChildStartError, RestartIntensityExceeded
from .policy import (RESTART_TYPES, STRATEGIES, Backoff, RestartIntensity, RestartType, Strategy,
                     restart_group, should_restart)
from .registry import Registry

log = logging.getLogger("actors")

_Process = Union[_Incarnation, "Supervisor"]


@dataclass
class ChildSpec:
    """How to (re)build one child. ``factory`` must return a NEW Actor or Supervisor each call."""

    name: str
    factory: Callable[[], Union[Actor, "Supervisor"]]
    restart: RestartType = "permanent"
    shutdown_timeout: float = 5.0  # to finish the current message and run on_stop, then killed
    mailbox_size: int = 100

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"child name must be non-empty without '/': {self.name!r}")
        if self.restart not in RESTART_TYPES:
            raise ValueError(f"restart must be one of {RESTART_TYPES}, not {self.restart!r}")
        if self.shutdown_timeout < 0:
            raise ValueError("shutdown_timeout must be >= 0")
        if self.mailbox_size < 1:
            raise ValueError("mailbox_size must be >= 1")


@dataclass(frozen=True)
class ChildStatus:
    """A row for readiness and metrics."""

    path: str
    kind: str  # "actor" | "supervisor"
    alive: bool
    restarts: int
    mailbox_depth: int | None  # None for supervisors


@dataclass(eq=False)
class _Child:
    spec: ChildSpec
    path: str
    backoff: Backoff
    proc: _Process | None = field(default=None)


class Supervisor:
    def __init__(self, name: str, children: Sequence[ChildSpec], strategy: Strategy = "one_for_one",
                 max_restarts: int = 3, max_seconds: float = 5.0, backoff_initial: float = 0.05,
                 backoff_max: float = 5.0, *, backoff_reset: float | None = None) -> None:
        """``backoff_reset``: uptime after which a child's backoff starts over (default
        ``max_seconds``: a child that outlived the intensity window counts as healthy)."""
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        names = [spec.name for spec in children]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate child names in {name!r}: {names}")
        self.name = name
        self.strategy: Strategy = strategy
        self._specs = list(children)
        self._intensity = RestartIntensity(max_restarts, max_seconds)
        self._new_backoff = partial(Backoff, backoff_initial, backoff_max,
                                    backoff_reset if backoff_reset is not None else max_seconds)
        self._new_backoff()  # validate the numbers now, not at the first crash
        self.path = ""
        self._children: list[_Child] = []
        self._registry = Registry()
        self._notify: ExitCallback | None = None
        self._exits: asyncio.Queue[tuple[_Child, Any, BaseException | None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._stop_requested = False

    def __repr__(self) -> str:
        return f"<Supervisor {self.path or self.name} {self.strategy}>"

    # -- start ----------------------------------------------------------------------------------

    async def start(self, registry: Registry, path: str, notify: ExitCallback) -> None:
        """Start children in order; if one fails, stop the started ones (reverse) and raise."""
        if self._started:
            raise RuntimeError(f"{self!r} already ran; a ChildSpec factory must build a new one")
        self._started = True
        self._registry, self.path, self._notify = registry, path, notify
        for spec in self._specs:
            child_path = f"{path}/{spec.name}" if path else spec.name
            registry.declare(child_path, spec)
            self._children.append(_Child(spec, child_path, self._new_backoff()))
        try:
            for child in self._children:
                try:
                    await self._launch(child)
                except Exception as exc:
                    raise ChildStartError(child.path, exc) from exc
                registry.emit("started", child.path)
                if self._stop_requested:  # stop() arrived while we were starting
                    raise ActorStopped(f"{self.path or self.name} was stopped while starting")
        except asyncio.CancelledError:
            self.abort()
            raise
        except Exception:
            await self._stop_children(self._children)
            raise
        self._task = asyncio.create_task(self._supervise(), name=f"supervisor:{path or self.name}")

    async def _launch(self, child: _Child) -> None:
        made = child.spec.factory()
        on_exit = partial(self._child_exited, child)
        if isinstance(made, Supervisor):
            self._registry.set_kind(child.path, "supervisor")
            await made.start(self._registry, child.path, on_exit)
            child.proc = made
        elif isinstance(made, Actor):
            if made._incarnation is not None:
                raise RuntimeError(f"factory of {child.path!r} returned an actor that already ran")
            self._registry.set_kind(child.path, "actor")
            ref = self._registry.ref(child.path)
            ref._mailbox.reopen()
            incarnation = _Incarnation(made, ref, child.spec.shutdown_timeout, on_exit)
            await incarnation.start()
            child.proc = incarnation
        else:
            raise TypeError(f"factory of {child.path!r} returned {made!r}, not an Actor/Supervisor")
        child.backoff.up(time.monotonic())

    # -- supervision ----------------------------------------------------------------------------

    def _child_exited(self, child: _Child, proc: Any, reason: BaseException | None) -> None:
        self._exits.put_nowait((child, proc, reason))

    async def _supervise(self) -> None:
        gave_up: BaseException | None = None
        try:
            while gave_up is None:
                child, proc, reason = await self._exits.get()
                if child.proc is not proc or child not in self._children:
                    continue  # an incarnation we already replaced or stopped ourselves
                gave_up = await self._handle_exit(child, reason)
        except Exception as exc:  # a bug here must not leave children running unsupervised
            log.exception("supervisor %s failed", self.path or self.name)
            await self._stop_children(self._children)
            gave_up = exc
        if not self._stop_requested and self._notify is not None:
            self._notify(self, gave_up)

    async def _handle_exit(self, child: _Child, reason: BaseException | None) -> BaseException | None:
        """Apply restart type, intensity and strategy; return the reason to escalate, if any."""
        child.proc = None
        abnormal = reason is not None
        self._registry.emit("crashed" if abnormal else "stopped", child.path, reason)
        if not should_restart(child.spec.restart, abnormal):
            self._forget(child)
            return None
        now = time.monotonic()
        if not self._intensity.record(now):
            exc = RestartIntensityExceeded(self.path or self.name, self._intensity.max_restarts,
                                           self._intensity.max_seconds)
            exc.__cause__ = reason
            log.error("%s; stopping its children and escalating", exc)
            self._registry.emit("escalated", self.path, exc)
            await self._stop_children(self._children)
            return exc
        names = restart_group(self.strategy, [c.spec.name for c in self._children], child.spec.name)
        group = [c for c in self._children if c.spec.name in names]
        await self._stop_children(group)
        for sibling in group:
            if sibling is not child and sibling.spec.restart == "temporary":
                self._forget(sibling)  # OTP: temporary children are never restarted, even here
        group = [c for c in group if c in self._children]
        delay = child.backoff.next_delay(now)
        if delay > 0:
            await asyncio.sleep(delay)
        for member in group:
            try:
                await self._launch(member)
            except Exception as exc:
                # A failed restart is one more crash of that child: it counts towards the
                # intensity and the strategy decides again, so a broken on_start cannot loop.
                log.warning("restart of %s failed: %r", member.path, exc)
                self._exits.put_nowait((member, None, exc))
                break
            self._registry.restarts[member.path] += 1
            self._registry.emit("restarted", member.path, delay=delay)
        return None

    def _forget(self, child: _Child) -> None:
        if child.spec.restart == "temporary":
            self._children.remove(child)
        self._registry.retire(child.path)

    # -- stop -----------------------------------------------------------------------------------

    async def _stop_children(self, children: Sequence[_Child], override: float | None = None) -> None:
        for child in reversed(list(children)):
            proc = child.proc
            if proc is None:
                continue
            timeout = child.spec.shutdown_timeout if override is None else override
            await proc.stop(timeout, override)  # if we are killed meanwhile, kill() still sees it
            child.proc = None
            self._registry.emit("stopped", child.path)

    async def shutdown(self, override: float | None = None) -> None:
        """Stop supervising, then stop children in reverse start order, each within its
        ``shutdown_timeout`` (or ``override``); no bound on the total (the root's stop)."""
        self._stop_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task})
        await self._stop_children(self._children, override)

    async def stop(self, timeout: float, override: float | None = None) -> None:
        """As a child of another supervisor: graceful within ``timeout``, then the sub-tree is
        killed."""
        self._stop_requested = True
        try:
            async with asyncio.timeout(timeout):
                await self.shutdown(override)
        except TimeoutError:
            log.warning("supervisor %s did not stop within %.3gs; killing it", self.path, timeout)
            await self.kill()
        except asyncio.CancelledError:
            self.abort()
            raise

    def abort(self) -> None:
        self._stop_requested = True
        if self._task is not None:
            self._task.cancel()
        for child in self._children:
            if child.proc is not None:
                child.proc.abort()

    def tasks(self) -> list[asyncio.Task[Any]]:
        found = [self._task] if self._task is not None else []
        for child in self._children:
            if child.proc is not None:
                found.extend(child.proc.tasks())
        return found

    async def kill(self) -> None:
        tasks = self.tasks()
        self.abort()
        await _await_cancelled(tasks, self.path or self.name)
        for child in self._children:
            child.proc = None

    # -- observability --------------------------------------------------------------------------

    def status(self) -> Iterator[ChildStatus]:
        for child in self._children:
            restarts = self._registry.restarts[child.path]
            if isinstance(child.proc, Supervisor):
                yield ChildStatus(child.path, "supervisor", True, restarts, None)
                yield from child.proc.status()
            elif self._registry.kinds.get(child.path) == "supervisor":
                yield ChildStatus(child.path, "supervisor", False, restarts, None)
            else:
                ref = self._registry.refs.get(child.path)
                alive = child.proc is not None and ref is not None and ref.is_alive
                depth = ref.mailbox_depth if ref is not None else 0
                yield ChildStatus(child.path, "actor", alive, restarts, depth)
