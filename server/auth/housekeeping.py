"""Start-up and background chores for accounts: warm the dummy hash, listen for revocations,
prune expired rows.

Pruning is idempotent, so every instance may run it; nothing depends on it running on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

from aiohttp import web

from .. import appkeys
from ..db import q
from . import ratelimit
from .passwords import dummy_hash
from .revocation import retention_s, start_listener

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 300.0


async def prune_once(app: web.Application) -> None:
    async with app[appkeys.DB].acquire() as conn:
        await ratelimit.prune(conn)
        settings = app[appkeys.SETTINGS]
        await conn.execute(q("prune_access_revocations"), retention_s(settings))
        await conn.execute(q("prune_expired_signups"), settings.unverified_account_ttl_s)
        for query in ("prune_expired_refresh_tokens", "prune_expired_email_tokens"):
            await conn.execute(q(query))


async def _prune_forever(app: web.Application) -> None:
    while True:
        await asyncio.sleep(PRUNE_EVERY_S)
        try:
            await prune_once(app)
        except Exception:  # a database hiccup must not end the loop; the next round retries
            log.warning("pruning auth tables failed", exc_info=True)


async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
    # The first unknown-user login would otherwise pay for computing the dummy hash, and be slower.
    await asyncio.to_thread(dummy_hash, app[appkeys.SETTINGS].bcrypt_rounds)
    tasks = [asyncio.create_task(_prune_forever(app), name="auth-prune"), start_listener(app)]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
