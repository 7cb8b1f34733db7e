"""Actor callbacks misbehaving: a hanging on_stop after a crash, a cancellation escaping receive,
a factory that hands back an old instance."""

from __future__ import annotations

import asyncio
from typing import Any

from actors import Actor, ChildSpec, RestartIntensityExceeded
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
