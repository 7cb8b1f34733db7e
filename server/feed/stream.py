"""The live notification stream: one hub per instance, and the Server-Sent Events loop of each stream.

How a notification written on any instance reaches a stream held on any other:
- the action's handler, after its transaction committed, calls ``announce(recipient)``; the hub
  batches those and sends them with ``NOTIFY imagepipe_notifications`` (recipient ids only, well
  under the 8 KB payload limit) from a tiny transaction of its own, never from the busy write
  transaction: a NOTIFY there takes PostgreSQL's notify lock until commit and serialises commits;
- every hub ``LISTEN``s on one connection and wakes the local streams of the named recipients;
- a slow poll (``stream_poll_s``) finds what nobody announced (a post's status trigger, an
  instance that died between commit and announcement, a listener that was reconnecting).
A woken stream reads its recipient's rows after its position (transaction id, row id) and sends
only those whose transaction is older than every running one (``settled``): a row that commits
late always sorts after what was sent, so ``Last-Event-ID`` resumes without loss, across
reconnects and restarts, on any instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import asyncpg
from aiohttp import web

from .. import appkeys
from ..config import Settings
from ..db import q
from . import rules, sse
from .rules import Position, encode_position
from .serialize import event_id, notification, position_of

log = logging.getLogger(__name__)

CHANNEL = "imagepipe_notifications"
PAYLOAD_MAX = 7900  # bytes of one NOTIFY payload (PostgreSQL's limit is 8000)
BATCH = 100  # notifications read per query
_PROBE_S = 5.0  # an idle LISTEN connection is probed: a dead server does not always close the socket
_DISCONNECT_CHECK_S = 1.0  # how soon a vanished client frees its stream slot
_AUTH_CHECK_S = 1.0  # how soon a revoked Bearer token's stream ends
_SETTLE_FIRST_S, _SETTLE_MAX_S = 0.005, 0.25
_TICKET_SWEEP_S = 60.0


@dataclass(eq=False)
class Subscriber:
    user_id: uuid.UUID
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False


class StreamHub:
    """This instance's streams, its LISTEN connection, its announcer and its catch-up poll."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._subs: dict[uuid.UUID, set[Subscriber]] = {}
        self._total = 0
        self._pending: set[uuid.UUID] = set()
        self._announce_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._all_closed = asyncio.Event()
        self._all_closed.set()
        self._horizon: str | None = None
        self.closing = False
        self.listening = False
        self.announced = 0  # recipients announced by this instance
        self.notifies = 0  # NOTIFY payloads sent

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """The poll's first horizon is taken now, before any stream opens: every notification
        committed from here on is found by some poll, whenever its stream opened."""
        async with self._pool.acquire() as conn:
            self._horizon = await conn.fetchval(q("notifications_stream_start"))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen(), name="notify-listen"),
                       loop.create_task(self._announcer(), name="notify-announce"),
                       loop.create_task(self._poll(), name="notify-poll")]

    async def stop(self) -> None:
        """Stop the background tasks; announcements still pending are sent first (best effort:
        the other instances' polls find them anyway)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._pending:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._flush(), 2.0)

    async def close_all(self, timeout: float) -> None:
        """SIGTERM: every stream ends with a ``retry:`` hint (its client reconnects, through the
        load balancer, to an instance that is not draining); new streams are refused."""
        self.closing = True
        for subs in self._subs.values():
            for sub in subs:
                sub.closing = True
                sub.wake.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._all_closed.wait(), timeout)

    # -- streams --------------------------------------------------------------------------------

    @property
    def open_streams(self) -> int:
        return self._total

    def open(self, user_id: uuid.UUID) -> Subscriber:
        """A slot for one more stream of ``user_id``, or 429 past the caps (503 while draining)."""
        if self.closing:
            raise web.HTTPServiceUnavailable(headers={"Retry-After": "1"})
        s = self._settings
        refusal = rules.stream_refusal(len(self._subs.get(user_id, ())), self._total,
                                       s.stream_max_per_account, s.stream_max_total)
        if refusal is not None:
            raise refusal
        sub = Subscriber(user_id)
        self._subs.setdefault(user_id, set()).add(sub)
        self._total += 1
        self._all_closed.clear()
        return sub

    def close(self, sub: Subscriber) -> None:
        subs = self._subs.get(sub.user_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.user_id]
        self._total -= 1
        if self._total == 0:
            self._all_closed.set()

    def _wake(self, user_id: uuid.UUID) -> None:
        for sub in self._subs.get(user_id, ()):
            sub.wake.set()

    def _wake_all(self) -> None:
        for user_id in list(self._subs):
            self._wake(user_id)

    # -- announcing -----------------------------------------------------------------------------

    def announce(self, recipient: uuid.UUID) -> None:
        """Called after a commit: local streams wake now, others after the batched NOTIFY."""
        self._wake(recipient)
        self._pending.add(recipient)
        self._announce_wake.set()

    async def _flush(self) -> None:
        batch, self._pending = self._pending, set()
        payloads = _payloads(sorted(str(r) for r in batch))
        try:
            async with self._pool.acquire() as conn:
                async with conn.transaction():  # one commit (one notify-lock hold) for them all
                    for payload in payloads:
                        await conn.execute(q("notifications_announce"), payload)
        except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            self._pending |= batch  # the database is away: try again (the polls also cover it)
            raise
        self.announced += len(batch)
        self.notifies += len(payloads)

    async def _announcer(self) -> None:
        """While one batch is being sent, the next one gathers: under load, one NOTIFY carries
        many recipients; when idle, each goes at once."""
        while True:
            await self._announce_wake.wait()
            self._announce_wake.clear()
            try:
                await self._flush()
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
                log.warning("announcing notifications failed (%s); retrying", exc.__class__.__name__)
                await asyncio.sleep(0.5)
                self._announce_wake.set()

    # -- hearing ---------------------------------------------------------------------------------

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for text in payload.split(","):
            with contextlib.suppress(ValueError):
                self._wake(uuid.UUID(text))

    async def _listen(self) -> None:
        delay = 0.25
        while not self._pool.is_closing():
            try:
                async with self._pool.acquire() as conn:
                    await self._listen_on(conn)
                    delay = 0.25
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: the poll covers the gap
                if self._pool.is_closing():
                    return
                log.warning("notification listener lost its connection (%s); reconnecting", exc.__class__.__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _listen_on(self, conn: asyncpg.Connection) -> None:
        """Until the connection is lost or the pool closes (a closing pool waits for this one)."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(CHANNEL, self._on_notify)
        self.listening = True
        self._wake_all()  # announcements may have gone by while we were not listening
        try:
            idle = 0.0
            while not lost.is_set() and not self._pool.is_closing():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), 1.0)
                idle += 1.0
                if idle >= _PROBE_S and not lost.is_set():
                    await conn.execute("SELECT 1", timeout=_PROBE_S)
                    idle = 0.0
        finally:
            self.listening = False
            if not conn.is_closed():
                with contextlib.suppress(Exception):
                    await conn.remove_listener(CHANNEL, self._on_notify)

    async def _poll(self) -> None:
        """Runs with or without streams, so its horizon never has a gap (see ``start``)."""
        last_sweep = time.monotonic()
        while not self._pool.is_closing():
            await asyncio.sleep(self._settings.stream_poll_s)
            try:
                async with self._pool.acquire() as conn:
                    row = await conn.fetchrow(q("notifications_recipients_since"), self._horizon, list(self._subs))
                    self._horizon = row["horizon"]
                    for recipient in row["recipients"]:
                        self._wake(recipient)
                    if time.monotonic() - last_sweep > _TICKET_SWEEP_S:
                        await conn.execute(q("stream_tickets_sweep"))
                        last_sweep = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the horizon stays: the next poll that works covers the gap
                log.debug("notification poll failed: %s", exc.__class__.__name__)


def _payloads(ids: list[str]) -> list[str]:
    """Comma-separated ids, each payload under the NOTIFY limit."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for text in ids:
        if current and size + len(text) + 1 > PAYLOAD_MAX:
            out.append(",".join(current))
            current, size = [], 0
        current.append(text)
        size += len(text) + 1
    if current:
        out.append(",".join(current))
    return out


HUB = web.AppKey("feed_stream_hub", StreamHub)


# -- one stream -----------------------------------------------------------------------------------

def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _deliver(conn: asyncpg.Connection, resp: web.StreamResponse, user_id: uuid.UUID,
                   pos: Position) -> tuple[Position, bool, bool]:
    """Send the settled notifications after ``pos``: (new position, rows still settling, a full batch)."""
    rows = await conn.fetch(q("notifications_stream_after"), user_id, str(pos.tx), pos.id, BATCH)
    settled = 0
    for row in rows:
        if not row["settled"]:
            break
        await resp.write(sse.event(event_id(row), "notification", notification(row)))
        pos = position_of(row)
        settled += 1
    return pos, settled < len(rows), len(rows) == BATCH and settled == len(rows)


async def run(request: web.Request, pool: asyncpg.Pool, user_id: uuid.UUID, resume: Position | None,
              revoked: Callable[[], Awaitable[bool]] | None = None) -> web.StreamResponse:
    """Hold one stream open until the client leaves, the instance drains, or an access token's
    lifetime has passed (a stream must not outlive a logout or a deleted account for long: the
    client reconnects with a fresh credential and its Last-Event-ID). It reads the database only
    when woken (an announcement, the poll) or while a row settles, never on a timer. ``revoked``
    (a Bearer stream's credential check, answered from memory) is asked at most once a second:
    a logout everywhere or a password reset ends the stream within about a second."""
    hub = request.app[HUB]
    settings = request.app[appkeys.SETTINGS]
    sub = hub.open(user_id)
    resp = web.StreamResponse(headers={
        "Content-Type": sse.CONTENT_TYPE, "Cache-Control": "no-store", "X-Accel-Buffering": "no",
    })
    try:
        if resume is None:
            async with pool.acquire() as conn:
                resume = Position(int(await conn.fetchval(q("notifications_stream_start"))), 0)
        pos = resume
        await resp.prepare(request)
        await resp.write(sse.position(encode_position(pos), settings.stream_retry_ms))
        last_write = time.monotonic()
        settle = _SETTLE_FIRST_S
        read, settling = True, False
        ends = time.monotonic() + settings.access_token_ttl_s
        next_auth_check = time.monotonic() + _AUTH_CHECK_S
        while not sub.closing and time.monotonic() < ends:
            if revoked is not None and time.monotonic() >= next_auth_check:
                if await revoked():
                    break
                next_auth_check = time.monotonic() + _AUTH_CHECK_S
            if read:
                sub.wake.clear()
                async with pool.acquire() as conn:
                    before = pos
                    pos, settling, full = await _deliver(conn, resp, user_id, pos)
                if pos != before:
                    last_write = time.monotonic()
                if full:
                    continue
            # A row behind a transaction that is still running: look again shortly, backing off.
            wait = settle if settling else _DISCONNECT_CHECK_S
            settle = min(settle * 2, _SETTLE_MAX_S) if settling else _SETTLE_FIRST_S
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(sub.wake.wait(), wait)
            read = sub.wake.is_set() or settling
            if read:
                continue
            if _client_gone(request):
                return resp
            if time.monotonic() - last_write >= settings.stream_heartbeat_s:
                await resp.write(sse.comment("ping"))
                last_write = time.monotonic()
        await resp.write(sse.retry(settings.stream_retry_ms))
        await resp.write_eof()
        return resp
    except ConnectionError:  # the client left mid-write; nothing more to say
        return resp
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError) as exc:
        if not resp.prepared:
            raise  # before the stream began: an ordinary error answer (503 for an outage)
        log.warning("notification stream ended: %s", exc.__class__.__name__)
        with contextlib.suppress(Exception):  # the client reconnects with its Last-Event-ID
            await resp.write(sse.retry(settings.stream_retry_ms))
        return resp
    finally:
        hub.close(sub)
