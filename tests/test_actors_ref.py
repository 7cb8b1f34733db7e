"""Sender-side semantics of ActorRef: ordering, backpressure, try_tell, ask and its failures."""

from __future__ import annotations

import asyncio

import pytest

from actors import ActorStopped, MailboxFull
from test_actors_kit import Boom, Kit, eventually, started


async def blocked(kit: Kit, ref, name: str) -> asyncio.Event:
    """Make the actor sit in receive() until the returned event is set."""
    gate = asyncio.Event()
    await ref.tell(("block", gate))
    await eventually(lambda: ("blocked", name) in kit.journal)
    return gate


async def test_messages_are_handled_one_at_a_time_in_send_order() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a", mailbox_size=8)])
    ref = system.ref("a")
    for i in range(40):
        await ref.tell(("note", i))
    assert await ref.ask(("echo", "done"), timeout=2) == "done"
    handled = [msg for name, msg in kit.journal.kinds("msg")]
    assert handled == [("note", i) for i in range(40)] + [("echo", "done")]
    await system.stop()


async def test_try_tell_fails_fast_and_tell_waits_for_room() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a", mailbox_size=2)])
    ref = system.ref("a")
    gate = await blocked(kit, ref, "a")
    ref.try_tell(("n", 1))
    ref.try_tell(("n", 2))
    assert ref.mailbox_depth == 2
    with pytest.raises(MailboxFull):
        ref.try_tell(("n", 3))
    waiting = asyncio.create_task(ref.tell(("n", 3)))
    await asyncio.sleep(0.03)
    assert not waiting.done(), "tell must wait while the mailbox is full"
    gate.set()
    await asyncio.wait_for(waiting, 2)
    assert await ref.ask(("echo", "end"), timeout=2) == "end"
    handled = [msg for _, msg in kit.journal.kinds("msg")]
    assert handled[1:] == [("n", 1), ("n", 2), ("n", 3), ("echo", "end")]
    await system.stop()


async def test_blocked_senders_are_served_first_come_first_served() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a", mailbox_size=1)])
    ref = system.ref("a")
    gate = await blocked(kit, ref, "a")
    ref.try_tell(("n", 0))
    senders = []
    for i in range(1, 6):
        senders.append(asyncio.create_task(ref.tell(("n", i))))
        await asyncio.sleep(0)  # each sender queues up before the next one
    with pytest.raises(MailboxFull):
        ref.try_tell(("late", 0))  # must not jump ahead of the waiting senders
    gate.set()
    await asyncio.wait_for(asyncio.gather(*senders), 2)
    await ref.ask(("echo", None), timeout=2)
    handled = [msg for _, msg in kit.journal.kinds("msg")]
    assert handled[1:-1] == [("n", i) for i in range(6)]
    await system.stop()


async def test_ask_times_out_and_a_stale_ask_is_never_handled() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a")])
    ref = system.ref("a")
    with pytest.raises(asyncio.TimeoutError):
        await ref.ask(("sleep", 0.2), timeout=0.02)
    gate = await blocked(kit, ref, "a")
    with pytest.raises(TimeoutError):
        await ref.ask(("stale", 1), timeout=0.02)
    gate.set()
    assert await ref.ask(("echo", 2), timeout=2) == 2
    assert ("a", ("stale", 1)) not in kit.journal.kinds("msg")
    await system.stop()


async def test_crash_while_handling_an_ask_fails_that_asker_with_the_exception() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a")])
    ref = system.ref("a")
    with pytest.raises(Boom, match="bad input"):
        await ref.ask(("crash", "bad input"), timeout=2)
    assert await ref.ask(("echo", "back"), timeout=2) == "back"  # same ref, new incarnation
    assert kit.created["a"] == 2
    await system.stop()


async def test_messages_queued_behind_a_crash_reach_the_next_incarnation() -> None:
    """Documented choice: the mailbox belongs to the ref, so only the crashing message is lost."""
    kit = Kit()
    system = await started(kit, [kit.spec("a")])
    ref = system.ref("a")
    first = await ref.ask(("whoami",), timeout=2)
    gate = await blocked(kit, ref, "a")
    doomed = asyncio.create_task(ref.ask(("crash", "poison"), timeout=2))
    survivor = asyncio.create_task(ref.ask(("whoami",), timeout=2))
    await eventually(lambda: ref.mailbox_depth == 2)
    gate.set()
    with pytest.raises(Boom):
        await doomed
    assert await survivor != first
    await system.stop()


async def test_gone_actor_fails_queued_asks_and_refuses_new_messages() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a", restart="temporary"), kit.spec("b")])
    ref = system.ref("a")
    gate = await blocked(kit, ref, "a")
    await ref.tell(("crash", "x"))
    queued = asyncio.create_task(ref.ask(("echo", 1), timeout=2))
    await eventually(lambda: ref.mailbox_depth == 2)
    gate.set()
    with pytest.raises(ActorStopped):
        await queued
    assert not ref.is_alive
    with pytest.raises(ActorStopped):
        await ref.tell(("echo", 2))
    with pytest.raises(ActorStopped):
        ref.try_tell(("echo", 3))
    assert kit.created["a"] == 1
    await system.stop()


async def test_ref_lookup_by_path() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a"), kit.sup_spec("sup", [kit.spec("w")])])
    assert system.ref("sup/w") is system.ref("sup/w")
    assert await system.ref("sup/w").ask(("echo", 7), timeout=2) == 7
    with pytest.raises(LookupError):
        system.ref("nope")
    with pytest.raises(LookupError):
        system.ref("sup")  # a supervisor takes no messages
    await system.stop()
