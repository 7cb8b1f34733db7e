"""Bounded FIFO mailbox with backpressure, one consumer, and close/reopen.

Not ``asyncio.Queue`` because we need three things it lacks on 3.11: close (wake blocked senders
with ActorStopped), interrupting the consumer's wait for a graceful stop, and strict FIFO among
blocked senders (a freed slot is reserved for the oldest waiter, so ``try_tell`` cannot jump the
queue and per-sender order is kept).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

from .errors import ActorStopped, MailboxFull


@dataclass(slots=True)
class Envelope:
    message: Any
    reply: asyncio.Future[Any] | None = None  # set for ask(); the actor resolves or fails it


class Mailbox:
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("mailbox_size must be >= 1")
        self.maxsize = maxsize
        self._items: deque[Envelope] = deque()
        self._putters: deque[asyncio.Future[bool]] = deque()
        self._reserved = 0  # slots handed to woken putters that have not appended yet
        self._getter: asyncio.Future[bool] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def _space(self) -> int:
        # Freed slots go straight to the oldest waiting sender (reserved), so while anyone waits
        # this is 0 and newcomers, try_tell included, cannot overtake them.
        return self.maxsize - len(self._items) - self._reserved

    def _append(self, envelope: Envelope) -> None:
        self._items.append(envelope)
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(True)

    def _wake_putters(self) -> None:
        while self._putters and self._space() > 0:
            fut = self._putters.popleft()
            if fut.done():
                continue
            self._reserved += 1
            fut.set_result(True)

    def put_nowait(self, envelope: Envelope) -> None:
        if self._closed:
            raise ActorStopped("mailbox closed")
        if self._space() <= 0:
            raise MailboxFull(f"mailbox full ({self.maxsize})")
        self._append(envelope)

    async def put(self, envelope: Envelope) -> None:
        """Append, waiting for room: this wait is the backpressure on senders."""
        while True:
            if self._closed:
                raise ActorStopped("mailbox closed")
            if self._space() > 0:
                self._append(envelope)
                return
            fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                granted = await fut
            except asyncio.CancelledError:
                if fut.cancelled() or not fut.done():
                    if fut in self._putters:
                        self._putters.remove(fut)
                elif fut.result():
                    self._reserved -= 1  # pass our reserved slot to the next sender
                    self._wake_putters()
                raise
            if granted:
                self._reserved -= 1
                if self._closed:
                    raise ActorStopped("mailbox closed")
                self._append(envelope)
                return
            # not granted: closed (raised above on the next turn) or closed-and-reopened: wait again

    async def get(self) -> Envelope | None:
        """Next envelope, or None once ``interrupt()`` was called while waiting."""
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                if not await self._getter:
                    return None
            finally:
                self._getter = None
        envelope = self._items.popleft()
        self._wake_putters()
        return envelope

    def interrupt(self) -> None:
        """Make a pending ``get`` return None (the consumer is asked to stop)."""
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(False)

    def close(self) -> list[Envelope]:
        """Refuse new messages, release blocked senders with ActorStopped; return what was queued."""
        self._closed = True
        drained = list(self._items)
        self._items.clear()
        while self._putters:
            fut = self._putters.popleft()
            if not fut.done():
                fut.set_result(False)
        return drained

    def reopen(self) -> None:
        self._closed = False
