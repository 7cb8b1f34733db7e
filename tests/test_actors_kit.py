"""Shared pieces for the actor runtime tests (no tests here): a journaling actor, factories that
count incarnations, an event recorder and a polling wait."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Callable

from actors.runtime import Actor, ActorEvent, ActorSystem, ChildSpec, Supervisor

FAST = dict(backoff_initial=0.001, backoff_max=0.004)


class Boom(Exception):
    pass


class Journal(list):
    """Ordered record of lifecycle steps and handled messages across all actors of a test."""

    def kinds(self, kind: str) -> list[Any]:
        return [entry[1] for entry in self if entry[0] == kind]


class Recorder(Actor):
    """Does what the message says, so a test scripts behaviour from outside."""

    def __init__(self, name: str, journal: Journal, fail_start: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start

    async def on_start(self) -> None:
        if self.fail_start:
            raise Boom(f"{self.name} cannot start")
        self.journal.append(("start", self.name))

    async def receive(self, message: Any) -> Any:
        verb, *args = message
        if verb == "crash":
            raise Boom(args[0] if args else self.name)
        if verb == "exit":
            self.stop_self()
        elif verb == "block":
            self.journal.append(("blocked", self.name))
            try:
                await args[0].wait()
            except asyncio.CancelledError:
                self.journal.append(("cancelled", self.name))
                raise
        elif verb == "sleep":
            await asyncio.sleep(args[0])
        elif verb == "whoami":
            return id(self)
        self.journal.append(("msg", (self.name, message)))
        return args[0] if args else None

    async def on_stop(self) -> None:
        self.journal.append(("stop", self.name))


class Kit:
    """Factories for one test: every incarnation is counted per name."""

    def __init__(self) -> None:
        self.journal = Journal()
        self.created: Counter[str] = Counter()
        self.events: list[ActorEvent] = []

    def on_event(self, event: ActorEvent) -> None:
        self.events.append(event)

    def seen(self, kind: str, path: str) -> int:
        return sum(1 for e in self.events if e.kind == kind and e.path == path)

    def factory(self, name: str, fail_start: Callable[[int], bool] | None = None
                ) -> Callable[[], Actor]:
        def make() -> Actor:
            self.created[name] += 1
            failing = fail_start is not None and fail_start(self.created[name])
            return Recorder(name, self.journal, fail_start=failing)
        return make

    def spec(self, name: str, **kwargs: Any) -> ChildSpec:
        return ChildSpec(name, self.factory(name), **kwargs)

    def sup_spec(self, name: str, children: list[ChildSpec], restart: str = "permanent",
                 shutdown_timeout: float = 5.0, **sup_kwargs: Any) -> ChildSpec:
        def make() -> Supervisor:
            self.created[name] += 1
            return Supervisor(name, children, **{**FAST, **sup_kwargs})
        return ChildSpec(name, make, restart=restart, shutdown_timeout=shutdown_timeout)


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll until true; fails the test (TimeoutError) instead of hanging it."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def started(kit: Kit, specs: list[ChildSpec], **kwargs: Any) -> ActorSystem:
    """A running system with tiny backoffs whose events land in ``kit.events``."""
    system = ActorSystem(specs, on_event=kit.on_event, **{**FAST, **kwargs})
    await system.start()
    return system
