"""Revoked access tokens, known to every instance at once, checked without a database round trip.

An access token is revoked when its login (``fam``, a refresh-token family) is revoked (logout,
"log out everywhere", a password reset, refresh-token reuse), when its account is deleted, or when
it alone is logged out (``jti``). The ``access_revocations`` table records these; triggers fill it
from the tables whose changes mean a revocation and announce each row with
``NOTIFY imagepipe_revocations`` (migration 0020).

Each instance keeps the recent rows in a ``RevocationSet`` in memory. A listener task holds one
connection of its own (outside the pool, so closing the pool never waits for it) with ``LISTEN`` on
the channel, loads the table *after* ``LISTEN`` is in place
(so nothing committed in between is missed) and then applies each notification as it arrives.
While it is not listening (start-up, a lost connection), ``is_revoked`` answers ``None`` and the
caller asks the database instead: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
import asyncpg
from aiohttp import web

from .. import appkeys
from ..config import Settings
from ..db import q
from .tokens import AccessClaims

log = logging.getLogger(__name__)

CHANNEL = "imagepipe_revocations"
APPLICATION_NAME = "imagepipe-revocations"  # how operators (and the fault test) find the connection
KINDS = ("family", "user", "jti")
_PROBE_S = 5.0  # a dead server does not always close the socket; probe the idle connection
_RETRY_MAX_S = 5.0
ECHO_WAIT_S = 1.0  # how long a revoking request waits to hear its own NOTIFY back

REVOCATIONS = web.AppKey("access_revocations", object)  # RevocationSet


def retention_s(settings: Settings) -> float:
    """How long a revocation matters: a token issued just before it lives this long at most."""
    return settings.access_token_ttl_s + settings.jwt_leeway_s + 60.0


@dataclass
class RevocationSet:
    """Pure state: which families, users and token ids are revoked, and since when (monotonic)."""

    retention: float
    live: bool = False  # True while the LISTEN connection is up and the table has been loaded
    _seen: dict[tuple[str, uuid.UUID], float] = field(default_factory=dict)
    _heard: dict[tuple[str, uuid.UUID], float] = field(default_factory=dict)  # came as a NOTIFY
    _echoes: dict[tuple[str, uuid.UUID], asyncio.Event] = field(default_factory=dict)

    def add(self, kind: str, subject: uuid.UUID, now: float | None = None) -> None:
        self._seen[(kind, subject)] = time.monotonic() if now is None else now

    def add_notification(self, payload: str) -> None:
        kind, _, subject = payload.partition(":")
        if kind in KINDS:
            try:
                key = (kind, uuid.UUID(subject))
            except ValueError:
                log.warning("ignored a malformed revocation notice")
                return
            self.add(*key)
            self._heard[key] = time.monotonic()
            echo = self._echoes.pop(key, None)
            if echo is not None:
                echo.set()

    async def heard(self, kind: str, subject: uuid.UUID, timeout: float) -> bool:
        """Wait (at most ``timeout``) until the NOTIFY of this revocation has come back to us."""
        key = (kind, subject)
        if key in self._heard:  # it may come back before anyone waits for it
            return True
        echo = self._echoes.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(echo.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._echoes.pop(key, None)

    def replace(self, rows: list[tuple[str, uuid.UUID]]) -> None:
        now = time.monotonic()
        fresh = {(kind, subject): now for kind, subject in rows}
        fresh.update({k: v for k, v in self._seen.items() if k not in fresh})  # notices that raced the load
        self._seen = fresh

    def prune(self, now: float | None = None) -> None:
        cutoff = (time.monotonic() if now is None else now) - self.retention
        self._seen = {k: v for k, v in self._seen.items() if v >= cutoff}
        self._heard = {k: v for k, v in self._heard.items() if v >= cutoff}

    def matches(self, claims: AccessClaims) -> bool:
        return (("family", claims.fam) in self._seen or ("user", claims.sub) in self._seen
                or ("jti", claims.jti) in self._seen)

    def is_revoked(self, claims: AccessClaims) -> bool | None:
        """True/False from memory, or None when memory cannot be trusted (not listening)."""
        return self.matches(claims) if self.live else None

    def __len__(self) -> int:
        return len(self._seen)


async def settle(app: web.Application, kind: str, subject: uuid.UUID) -> None:
    """After committing a revocation: apply it here at once, then hold the answer until its NOTIFY
    has come back through PostgreSQL. The server delivers a NOTIFY to every listener at the same
    commit, so by the time this client hears "done", the other instances have heard it too."""
    revoked: RevocationSet = app[REVOCATIONS]  # type: ignore[assignment]
    revoked.add(kind, subject)
    if revoked.live and not await revoked.heard(kind, subject, ECHO_WAIT_S):
        log.warning("a revocation's NOTIFY did not come back within %.1f s", ECHO_WAIT_S)


async def is_revoked(app: web.Application, claims: AccessClaims) -> bool:
    """The hot path: memory when listening, one indexed query only when not."""
    known = app[REVOCATIONS].is_revoked(claims)  # type: ignore[attr-defined]
    if known is not None:
        return known
    async with app[appkeys.DB].acquire() as conn:
        return bool(await conn.fetchval(q("is_access_revoked"), claims.jti, claims.fam, claims.sub))


def database_dsn(app: web.Application) -> str | None:
    """The DSN the app's pool was opened with: configured, or the embedded server's."""
    settings = app[appkeys.SETTINGS]
    if settings.database_url:
        return settings.database_url
    embedded = app.get(appkeys.EMBEDDED_PG)
    return getattr(embedded, "uri", None)


async def _listen(dsn: str, revoked: RevocationSet) -> None:
    conn = await asyncpg.connect(dsn, timeout=_PROBE_S, server_settings={"application_name": APPLICATION_NAME})
    try:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())

        def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            revoked.add_notification(payload)

        await conn.add_listener(CHANNEL, on_notify)
        try:
            rows = await conn.fetch(q("recent_access_revocations"), revoked.retention)
            revoked.replace([(r["kind"], r["subject"]) for r in rows])
            revoked.live = True
            log.debug("revocation list loaded: %d entries", len(revoked))
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), _PROBE_S)
                except asyncio.TimeoutError:
                    await conn.execute("SELECT 1", timeout=_PROBE_S)
                    revoked.prune()
        finally:
            revoked.live = False
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), _PROBE_S)


async def _listen_forever(dsn: str | None, revoked: RevocationSet) -> None:
    if dsn is None:  # a pool handed in without its DSN: every check takes the slow path
        log.warning("no DSN to listen for revocations on; checking each token in the database")
        return
    delay = 0.25
    while True:
        try:
            await _listen(dsn, revoked)
            delay = 0.25
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database went away: requests take the slow path meanwhile
            log.warning("revocation listener lost its connection (%s); reconnecting", exc.__class__.__name__)
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RETRY_MAX_S)


def start_listener(app: web.Application) -> asyncio.Task[None]:
    """Give the app its RevocationSet and start keeping it current; cancel the task to stop."""
    revoked = RevocationSet(retention=retention_s(app[appkeys.SETTINGS]))
    app[REVOCATIONS] = revoked
    return asyncio.create_task(_listen_forever(database_dsn(app), revoked), name="revocation-listener")
