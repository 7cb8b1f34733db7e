"""Things going wrong around the actors: a hanging on_stop after a crash, a cancellation escaping
receive, a factory that hands back an old instance, stop() during start(), a supervisor bug."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import Actor, ActorStopped, ActorSystem, ChildSpec, RestartIntensityExceeded
from actors.runtime import supervisor as supervisor_module
from test_actors_kit import Kit, eventually, started


class HangsOnStop(Actor):
    async def receive(self, message: Any) -> Any:
        raise RuntimeError("boom")

    async def on_stop(self) -> None:
        await asyncio.Event().wait()


class CancelledInside(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "cancel":
            never = asyncio.get_running_loop().create_future()
            never.cancel()
            await never  # a CancelledError that is not a kill of this actor
        return message


async def test_a_hanging_on_stop_after_a_crash_does_not_stall_the_restart() -> None:
    kit = Kit()
    system = await started(kit, [ChildSpec("h", HangsOnStop, shutdown_timeout=0.05)])
    await system.ref("h").tell("anything")
    await eventually(lambda: kit.seen("restarted", "h") == 1)
    assert system.ref("h").is_alive
    await asyncio.wait_for(system.stop(), 2)


async def test_a_cancellation_escaping_receive_is_a_crash_not_a_stop() -> None:
    kit = Kit()
    system = await started(kit, [ChildSpec("c", CancelledInside, restart="transient")])
    ref = system.ref("c")
    await ref.tell("cancel")
    await eventually(lambda: kit.seen("restarted", "c") == 1)  # transient: only abnormal exits
    crash = next(e for e in kit.events if e.kind == "crashed")
    assert isinstance(crash.reason, asyncio.CancelledError)
    assert await ref.ask("still here", timeout=2) == "still here"
    await system.stop()


async def test_a_factory_returning_a_used_instance_is_refused_not_reused() -> None:
    kit = Kit()
    same = HangsOnStop()
    told: list[BaseException] = []
    system = await started(kit, [ChildSpec("h", lambda: same, shutdown_timeout=0.01)],
                           max_restarts=2, on_escalate=told.append)
    await system.ref("h").tell("crash it")
    await asyncio.wait_for(system.wait_stopped(), 2)
    assert isinstance(told[0], RestartIntensityExceeded)
    failures = [e.reason for e in kit.events if e.kind == "crashed"][1:]
    assert failures and all("already ran" in str(r) for r in failures)


class SlowStart(Actor):
    def __init__(self, gate: asyncio.Event, journal: list[str]) -> None:
        self.gate, self.journal = gate, journal

    async def on_start(self) -> None:
        await self.gate.wait()
        self.journal.append("started")

    async def on_stop(self) -> None:
        self.journal.append("stopped")


async def test_stop_while_starting_leaves_nothing_running() -> None:
    gate, journal = asyncio.Event(), []
    kit = Kit()
    system = ActorSystem([ChildSpec("slow", lambda: SlowStart(gate, journal)), kit.spec("later")])
    starting = asyncio.create_task(system.start())
    await asyncio.sleep(0.01)
    stopping = asyncio.create_task(system.stop())
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(ActorStopped):
        await asyncio.wait_for(starting, 2)
    await asyncio.wait_for(stopping, 2)
    assert journal == ["started", "stopped"] and kit.created["later"] == 0
    with pytest.raises(ActorStopped):
        await system.ref("slow").tell("hello")


async def test_a_failure_inside_the_supervisor_itself_stops_children_and_escalates(monkeypatch) -> None:
    def broken(*args: Any) -> list[str]:
        raise RuntimeError("bug in a decision")

    monkeypatch.setattr(supervisor_module, "restart_group", broken)
    kit = Kit()
    told: list[BaseException] = []
    system = await started(kit, [kit.spec("a"), kit.spec("b")], on_escalate=told.append)
    await system.ref("a").tell(("crash",))
    await asyncio.wait_for(system.wait_stopped(), 2)
    assert [str(r) for r in told] == ["bug in a decision"]
    assert kit.journal.kinds("stop") == ["a", "b"]  # a after its crash, b by the failing supervisor
