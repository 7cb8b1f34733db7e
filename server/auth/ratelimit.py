"""Fixed-window rate limits shared by every instance through PostgreSQL.

One upsert per check (``hit_rate_limit``) counts the hit and returns the window's total, so two
instances behind a load balancer enforce one limit. The window arithmetic is pure and tested alone.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from ..config import Settings
from ..db import q
from ..http import ApiError

WINDOW_S = 60


@dataclass(frozen=True)
class Window:
    start: int  # unix seconds, a multiple of the window length
    retry_after: int  # whole seconds until the next window opens, at least 1


def window_for(now: float, window_s: int = WINDOW_S) -> Window:
    """The fixed window holding ``now`` and how long until it ends."""
    start = int(now // window_s) * window_s
    return Window(start=start, retry_after=max(1, math.ceil(start + window_s - now)))


def over_limit(hits: int, limit: int) -> bool:
    return hits > limit


def account_bucket(action: str, identifier: str) -> str:
    """Bucket for an account; hashed so the counters table holds no email addresses."""
    return f"{action}:acct:{digest(identifier)}"


def client_ip(request: web.Request, settings: Settings) -> str:
    """The peer address; X-Forwarded-For only when a trusted proxy is configured to set it."""
    if settings.trust_x_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:  # the right-most entry is the one our own proxy appended
            return hops[-1]
    return request.remote or "unknown"


def limited(window: Window, what: str = "attempts") -> ApiError:
    return ApiError(
        429, "rate_limited", f"too many {what}; retry in {window.retry_after} s",
        headers={"Retry-After": str(window.retry_after)},
    )


async def count(conn: asyncpg.Connection, bucket: str, *, window_s: int = WINDOW_S,
                now: float | None = None) -> tuple[int, Window]:
    """Count one hit in the current window of ``bucket``; the window's total so far and the window."""
    window = window_for(time.time() if now is None else now, window_s)
    hits = await conn.fetchval(q("hit_rate_limit"), bucket, window.start, window_s)
    return hits, window


async def uncount(conn: asyncpg.Connection, bucket: str, window: Window) -> None:
    """Give back one hit counted by ``count`` in ``window``."""
    await conn.execute(q("unhit_rate_limit"), bucket, window.start)


async def hit(conn: asyncpg.Connection, bucket: str, limit: int, *, window_s: int = WINDOW_S,
              now: float | None = None) -> None:
    """Count one hit; 429 ``rate_limited`` with ``Retry-After`` once the window's limit is passed."""
    hits, window = await count(conn, bucket, window_s=window_s, now=now)
    if over_limit(hits, limit):
        raise limited(window)


async def allowed(conn: asyncpg.Connection, bucket: str, limit: int, *, window_s: int = WINDOW_S) -> bool:
    """Count one hit and say whether it is within the limit, for limits enforced silently (mail)."""
    hits, _ = await count(conn, bucket, window_s=window_s)
    return not over_limit(hits, limit)


def digest(identifier: str) -> str:
    """Identifiers in bucket names are hashed, so the counters table holds no email addresses."""
    return hashlib.sha256(identifier.strip().lower().encode("utf-8")).hexdigest()[:32]


async def enforce(request: web.Request, settings: Settings, conn: asyncpg.Connection, action: str, account: str) -> None:
    """Per client IP, then per account, for one attempt at ``action``."""
    await hit(conn, f"{action}:ip:{client_ip(request, settings)}", settings.rate_limit_ip_per_min)
    await hit(conn, account_bucket(action, account), settings.rate_limit_account_per_min)


async def prune(conn: asyncpg.Connection, *, now: float | None = None) -> None:
    """Drop windows that have ended, whatever their length."""
    await conn.execute(q("prune_rate_limit_counters"), time.time() if now is None else now)
