"""Supervisor behaviour on a real event loop: restart types, strategies, intensity and escalation,
backoff, stable refs, start failures and status."""

from __future__ import annotations

import asyncio
import time

import pytest

from actors import (ActorStopped, ActorSystem, ChildSpec, ChildStartError,
                    RestartIntensityExceeded)
from test_actors_kit import FAST, Boom, Kit, eventually, started


@pytest.mark.parametrize(
    "restart, message, restarted",
    [
        ("permanent", ("exit",), True),
        ("permanent", ("crash",), True),
        ("transient", ("exit",), False),
        ("transient", ("crash",), True),
        ("temporary", ("exit",), False),
        ("temporary", ("crash",), False),
    ],
)
async def test_restart_type_decides_after_normal_or_abnormal_exit(restart, message, restarted) -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a", restart=restart), kit.spec("b")])
    ref = system.ref("a")
    await ref.tell(message)
    exit_kind = "crashed" if message == ("crash",) else "stopped"
    await eventually(lambda: kit.seen(exit_kind, "a") == 1)
    if restarted:
        await eventually(lambda: kit.seen("restarted", "a") == 1)
        assert await ref.ask(("echo", "up"), timeout=2) == "up"
    else:
        await asyncio.sleep(0.05)  # room for a wrong restart to happen
        assert kit.seen("restarted", "a") == 0
        assert not ref.is_alive
        with pytest.raises(ActorStopped):
            await ref.ask(("echo", "up"), timeout=2)
    assert kit.created["a"] == (2 if restarted else 1)
    assert kit.created["b"] == 1
    assert kit.journal.count(("stop", "a")) == 1  # on_stop ran on the way out, crash or not
    await system.stop()


async def crash_b_and_settle(strategy: str) -> Kit:
    """Crash the middle of three children; the journal then holds just the restart's steps."""
    kit = Kit()
    system = await started(kit, [kit.spec("a"), kit.spec("b"), kit.spec("c")], strategy=strategy)
    del kit.journal[:]
    await system.ref("b").tell(("crash",))
    await eventually(lambda: kit.seen("restarted", "b") == 1)
    await asyncio.sleep(0.03)  # room for anything that should not happen
    steps = list(kit.journal)
    await system.stop()
    kit.journal[:] = steps
    return kit


async def test_one_for_one_restarts_only_the_crashed_child() -> None:
    kit = await crash_b_and_settle("one_for_one")
    assert kit.journal == [("stop", "b"), ("start", "b")]
    assert dict(kit.created) == {"a": 1, "b": 2, "c": 1}


async def test_one_for_all_stops_the_others_in_reverse_then_starts_all_in_order() -> None:
    kit = await crash_b_and_settle("one_for_all")
    assert kit.journal == [("stop", "b"), ("stop", "c"), ("stop", "a"),
                           ("start", "a"), ("start", "b"), ("start", "c")]
    assert dict(kit.created) == {"a": 2, "b": 2, "c": 2}


async def test_rest_for_one_restarts_the_crashed_child_and_those_after_it() -> None:
    kit = await crash_b_and_settle("rest_for_one")
    assert kit.journal == [("stop", "b"), ("stop", "c"), ("start", "b"), ("start", "c")]
    assert dict(kit.created) == {"a": 1, "b": 2, "c": 2}


async def test_one_for_all_does_not_bring_back_a_temporary_sibling() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a"), kit.spec("t", restart="temporary")],
                           strategy="one_for_all")
    await system.ref("a").tell(("crash",))
    await eventually(lambda: kit.seen("restarted", "a") == 1)
    assert kit.created["t"] == 1
    assert [s.path for s in system.status()] == ["a"]
    with pytest.raises(ActorStopped):
        await system.ref("t").tell(("echo", 1))
    await system.stop()


async def test_intensity_exceeded_escalates_and_the_parent_restarts_the_subtree() -> None:
    kit = Kit()
    inner = [kit.spec("w1"), kit.spec("w2")]
    system = await started(kit, [kit.spec("a"), kit.sup_spec("sub", inner, max_restarts=1)],
                           max_restarts=5)
    w1 = system.ref("sub/w1")
    old_w2 = await system.ref("sub/w2").ask(("whoami",), timeout=2)
    await w1.tell(("crash",))
    await eventually(lambda: kit.seen("restarted", "sub/w1") == 1)
    await w1.tell(("crash",))  # second restart in the window: more than max_restarts=1
    await eventually(lambda: kit.seen("restarted", "sub") == 1)
    escalated = [e for e in kit.events if e.kind == "escalated"]
    assert [e.path for e in escalated] == ["sub"]
    assert isinstance(escalated[0].reason, RestartIntensityExceeded)
    assert isinstance(escalated[0].reason.__cause__, Boom)
    assert kit.seen("crashed", "sub") == 1
    assert kit.created["sub"] == 2 and kit.created["w1"] == 3 and kit.created["w2"] == 2
    assert kit.created["a"] == 1  # one_for_one at the root: the sibling is untouched
    assert await w1.ask(("echo", "same ref"), timeout=2) == "same ref"
    assert await system.ref("sub/w2").ask(("whoami",), timeout=2) != old_w2
    assert system.running
    await system.stop()


async def test_parent_that_also_overflows_escalates_to_the_system() -> None:
    kit = Kit()
    told: list[BaseException] = []
    system = await started(kit, [kit.spec("a"), kit.sup_spec("sub", [kit.spec("w")], max_restarts=0)],
                           max_restarts=0, on_escalate=told.append)
    await system.ref("sub/w").tell(("crash",))
    reason = await asyncio.wait_for(system.wait_stopped(), 2)
    assert told == [reason] and system.exit_reason is reason
    assert isinstance(reason, RestartIntensityExceeded) and reason.supervisor == "root"
    assert isinstance(reason.__cause__, RestartIntensityExceeded)
    assert reason.__cause__.supervisor == "sub"
    assert kit.journal.count(("stop", "a")) == 1  # the root stopped everything before giving up
    assert not system.running
    with pytest.raises(ActorStopped):
        await system.ref("a").tell(("echo", 1))


async def test_async_on_escalate_is_awaited_by_wait_stopped() -> None:
    kit = Kit()
    done: list[str] = []

    async def escalate(reason: BaseException) -> None:
        await asyncio.sleep(0.01)
        done.append(type(reason).__name__)

    system = await started(kit, [kit.spec("a")], max_restarts=0, on_escalate=escalate)
    await system.ref("a").tell(("crash",))
    await asyncio.wait_for(system.wait_stopped(), 2)
    assert done == ["RestartIntensityExceeded"]


async def test_backoff_delays_grow_and_cap_and_are_really_waited() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a")], max_restarts=20, backoff_initial=0.004,
                           backoff_max=0.016)
    ref = system.ref("a")
    began = time.monotonic()
    for n in range(1, 6):
        await ref.tell(("crash",))
        await eventually(lambda: kit.seen("restarted", "a") == n)
    elapsed = time.monotonic() - began
    delays = [e.delay for e in kit.events if e.kind == "restarted"]
    assert delays == pytest.approx([0.004, 0.008, 0.016, 0.016, 0.016])
    assert elapsed >= sum(delays)
    await system.stop()


async def test_backoff_starts_over_after_a_quiet_period() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a")], max_restarts=20, backoff_initial=0.002,
                           backoff_max=1.0, backoff_reset=0.5)
    ref = system.ref("a")
    for n in (1, 2):
        await ref.tell(("crash",))
        await eventually(lambda: kit.seen("restarted", "a") == n)
    await asyncio.sleep(0.6)
    await ref.tell(("crash",))
    await eventually(lambda: kit.seen("restarted", "a") == 3)
    assert [e.delay for e in kit.events if e.kind == "restarted"] == pytest.approx(
        [0.002, 0.004, 0.002])
    await system.stop()


async def test_ref_is_stable_and_messages_sent_while_restarting_wait() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a")])
    ref = system.ref("a")
    in_gap: list[bool] = []

    def send_in_the_gap(event) -> None:  # runs between the crash and the restart, by design
        if event.kind == "crashed":
            ref.try_tell(("during", 1))
            in_gap.append(ref.is_alive)

    kit.events = _Tap(kit.events, send_in_the_gap)
    first = await ref.ask(("whoami",), timeout=2)
    await ref.tell(("crash",))
    assert await ref.ask(("whoami",), timeout=2) != first
    assert in_gap == [False]
    assert system.ref("a") is ref and ref.is_alive
    assert ("a", ("during", 1)) in kit.journal.kinds("msg")
    await system.stop()


class _Tap(list):
    """An event list that also calls ``hook`` on each event as it arrives."""

    def __init__(self, events: list, hook) -> None:
        super().__init__(events)
        self.hook = hook

    def append(self, event) -> None:
        super().append(event)
        self.hook(event)


async def test_failed_start_stops_the_started_siblings_in_reverse() -> None:
    kit = Kit()
    specs = [kit.spec("a"), kit.spec("b"),
             ChildSpec("c", kit.factory("c", fail_start=lambda n: True))]
    system = ActorSystem(specs, **FAST)
    with pytest.raises(ChildStartError) as caught:
        await system.start()
    assert caught.value.path == "c" and isinstance(caught.value.__cause__, Boom)
    assert kit.journal == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]
    with pytest.raises(ActorStopped):
        await system.ref("a").tell(("echo", 1))  # refused, not queued for nobody


async def test_restart_whose_on_start_keeps_failing_escalates_instead_of_looping() -> None:
    kit = Kit()
    flaky = ChildSpec("a", kit.factory("a", fail_start=lambda n: n > 1))
    told: list[BaseException] = []
    system = await started(kit, [flaky], max_restarts=3, on_escalate=told.append)
    await system.ref("a").tell(("crash",))
    await asyncio.wait_for(system.wait_stopped(), 2)
    assert kit.created["a"] == 1 + 3  # the first incarnation, then the 3 allowed restarts
    assert kit.seen("crashed", "a") == 4 and kit.seen("restarted", "a") == 0
    assert isinstance(told[0], RestartIntensityExceeded)


async def test_status_reports_restarts_depth_and_liveness() -> None:
    kit = Kit()
    system = await started(kit, [kit.spec("a"), kit.sup_spec("sub", [kit.spec("w")])])
    await system.ref("sub/w").tell(("crash",))
    await eventually(lambda: kit.seen("restarted", "sub/w") == 1)
    gate = asyncio.Event()
    await system.ref("a").tell(("block", gate))
    await system.ref("a").tell(("echo", 1))
    await eventually(lambda: system.ref("a").mailbox_depth == 1)
    rows = {s.path: s for s in system.status()}
    assert list(rows) == ["a", "sub", "sub/w"]
    assert (rows["a"].alive, rows["a"].restarts, rows["a"].mailbox_depth) == (True, 0, 1)
    assert (rows["sub"].kind, rows["sub"].alive, rows["sub"].mailbox_depth) == ("supervisor", True, None)
    assert (rows["sub/w"].restarts, rows["sub/w"].alive) == (1, True)
    gate.set()
    await system.stop()
    assert not any(s.alive for s in system.status())
    assert [e.path for e in kit.events if e.kind == "started"] == ["a", "sub/w", "sub", ""]
