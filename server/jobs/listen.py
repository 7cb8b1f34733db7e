"""Wake-ups for idle feeders: ``LISTEN imagepipe_jobs`` on one dedicated connection.

A notification is only a hint (it can be missed while reconnecting, or raced by another instance),
so callers always pair it with a poll: ``await listener.wait(poll_interval)`` returns on a
notification or when the interval runs out, whichever is first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "imagepipe_jobs"
# How often an idle LISTEN connection is probed: a dead server does not always close the socket.
_PROBE_S = 5.0


class JobListener:
    def __init__(self, pool: asyncpg.Pool, channel: str = CHANNEL, retry_max_s: float = 5.0) -> None:
        self._pool = pool
        self._channel = channel
        self._retry_max_s = retry_max_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.reconnects = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="job-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def poke(self) -> None:
        """Wake the waiter now (a slot freed up, or someone knows there is work)."""
        self._wake.set()

    async def wait(self, timeout: float) -> bool:
        """True if woken by a notification/poke, False if the poll interval ran out."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._wake.clear()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.25
        while True:
            try:
                async with self._pool.acquire() as conn:
                    await self._listen_on(conn)
                    delay = 0.25
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: keep trying, the poll covers the gap
                log.warning("job listener lost its connection (%s); reconnecting", exc.__class__.__name__)
            finally:
                self.connected = False
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)

    async def _listen_on(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(self._channel, self._on_notify)
        self.connected = True
        self._wake.set()  # jobs may have been queued while we were not listening
        try:
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), _PROBE_S)
                except asyncio.TimeoutError:
                    await conn.execute("SELECT 1", timeout=_PROBE_S)
        finally:
            if not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.remove_listener(self._channel, self._on_notify)
