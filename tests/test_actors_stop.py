"""Ordered graceful stop, and the brutal kill after a child's shutdown_timeout."""

from __future__ import annotations

import asyncio

import pytest

from actors import ActorStopped, ActorSystem
from test_actors_kit import Kit, eventually, started


async def stuck(kit: Kit, system: ActorSystem, path: str) -> asyncio.Task:
    """An ask the actor at ``path`` will never finish on its own."""
    name = path.rsplit("/", 1)[-1]
    asking = asyncio.create_task(system.ref(path).ask(("block", asyncio.Event()), timeout=10))
    await eventually(lambda: ("blocked", name) in kit.journal)
    return asking


async def test_stop_goes_in_reverse_start_order_through_the_tree() -> None:
    kit = Kit()
    sub = kit.sup_spec("sub", [kit.spec("c"), kit.spec("d")])
    system = await started(kit, [kit.spec("a"), kit.spec("b"), sub, kit.spec("e")])
    assert kit.journal.kinds("start") == ["a", "b", "c", "d", "e"]
    await system.stop()
    assert kit.journal.kinds("stop") == ["e", "d", "c", "b", "a"]
    stopped = [e.path for e in kit.events if e.kind == "stopped"]
    assert stopped == ["e", "sub/d", "sub/c", "sub", "b", "a", ""]
    await asyncio.wait_for(system.stop(), 1)  # idempotent
    assert kit.journal.kinds("stop") == ["e", "d", "c", "b", "a"]


async def test_graceful_stop_finishes_the_current_message_and_fails_the_queued_ones() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a")])
    ref = system.ref("a")
    in_flight = asyncio.create_task(ref.ask(("sleep", 0.05), timeout=2))
    await eventually(lambda: ref.mailbox_depth == 0)
    queued = asyncio.create_task(ref.ask(("echo", "never"), timeout=2))
    await eventually(lambda: ref.mailbox_depth == 1)
    await system.stop()
    assert await in_flight == 0.05
    with pytest.raises(ActorStopped):
        await queued
    assert kit.journal[-2:] == [("msg", ("a", ("sleep", 0.05))), ("stop", "a")]
    with pytest.raises(ActorStopped):
        await ref.tell(("echo", "late"))


async def test_stop_timeout_cancels_a_stuck_actor_and_carries_on_in_order() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a"), kit.spec("s", shutdown_timeout=0.05), kit.spec("b")])
    asking = await stuck(kit, system, "s")
    async with asyncio.timeout(2):
        await system.stop()
    assert ("cancelled", "s") in kit.journal and not system.ref("s").is_alive
    assert kit.journal.kinds("stop") == ["b", "a"]  # s was killed: no on_stop after a brutal kill
    with pytest.raises(ActorStopped):
        await asking


async def test_a_stuck_subtree_is_killed_after_its_supervisors_timeout() -> None:
    kit = Kit()
    sub = kit.sup_spec("sub", [kit.spec("w", shutdown_timeout=30)], shutdown_timeout=0.05)
    system = await started(kit, [sub, kit.spec("a")])  # sub is stopped last: nothing after it
    asking = await stuck(kit, system, "sub/w")
    async with asyncio.timeout(2):
        await system.stop()
    # checked before yielding to the loop: stop() returns only once the killed task is gone
    assert ("cancelled", "w") in kit.journal and not system.ref("sub/w").is_alive
    assert kit.journal.kinds("stop") == ["a"]
    with pytest.raises(ActorStopped):
        await asking


async def test_timeout_per_child_overrides_every_spec() -> None:
    kit = Kit()
    sub = kit.sup_spec("sub", [kit.spec("w", shutdown_timeout=30)], shutdown_timeout=30)
    system = await started(kit, [sub])
    await stuck(kit, system, "sub/w")
    await asyncio.wait_for(system.stop(timeout_per_child=0.05), 2)
    assert ("cancelled", "w") in kit.journal


async def test_stop_during_restart_backoff_leaves_nothing_running() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a"), kit.spec("b")], backoff_initial=5, backoff_max=5)
    await system.ref("a").tell(("crash",))
    await eventually(lambda: kit.seen("crashed", "a") == 1)
    await asyncio.wait_for(system.stop(), 2)  # must not sit out the 5 s backoff
    assert kit.created["a"] == 1
    assert kit.journal.kinds("stop") == ["a", "b"]  # a's on_stop after its crash, then b's
    assert not any(s.alive for s in system.status())
