"""The mailbox's edge cases that are hard to reach through an actor: slot hand-over when a woken
sender is cancelled, close releasing blocked senders, interrupting the consumer."""

from __future__ import annotations

import asyncio

import pytest

from actors import ActorStopped, MailboxFull
from actors.runtime.mailbox import Envelope, Mailbox


def messages(box: Mailbox) -> list[object]:
    return [envelope.message for envelope in box.close()]


async def test_a_cancelled_sender_passes_its_reserved_slot_on() -> None:
    box = Mailbox(1)
    box.put_nowait(Envelope(0))
    first = asyncio.create_task(box.put(Envelope(1)))
    second = asyncio.create_task(box.put(Envelope(2)))
    await asyncio.sleep(0)
    assert (await box.get()).message == 0  # frees a slot, reserved for `first`
    first.cancel()
    await asyncio.wait_for(second, 1)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert messages(box) == [2]


async def test_reserved_slot_is_not_taken_by_try_tell() -> None:
    box = Mailbox(1)
    box.put_nowait(Envelope(0))
    waiting = asyncio.create_task(box.put(Envelope(1)))
    await asyncio.sleep(0)
    await box.get()
    with pytest.raises(MailboxFull):
        box.put_nowait(Envelope("jumper"))
    await asyncio.wait_for(waiting, 1)
    assert messages(box) == [1]


async def test_close_releases_blocked_senders_and_reopen_accepts_again() -> None:
    box = Mailbox(1)
    box.put_nowait(Envelope(0))
    blocked = asyncio.create_task(box.put(Envelope(1)))
    await asyncio.sleep(0)
    assert messages(box) == [0]
    with pytest.raises(ActorStopped):
        await asyncio.wait_for(blocked, 1)
    with pytest.raises(ActorStopped):
        box.put_nowait(Envelope(2))
    box.reopen()
    await asyncio.wait_for(box.put(Envelope(3)), 1)
    assert len(box) == 1


async def test_interrupt_wakes_a_waiting_consumer_with_none() -> None:
    box = Mailbox(4)
    getting = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.interrupt()
    assert await asyncio.wait_for(getting, 1) is None
    box.put_nowait(Envelope("after"))
    assert (await box.get()).message == "after"


def test_mailbox_needs_room_for_one() -> None:
    with pytest.raises(ValueError):
        Mailbox(0)
