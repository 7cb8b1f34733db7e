"""Stream tickets: how a browser opens the notification stream.

EventSource cannot send an ``Authorization`` header, and an access token in a URL ends up in
proxy and server logs, where it stays valid for its whole lifetime. So a signed-in client asks
for a ticket (``POST /api/v1/notifications/stream-ticket``) and puts that in the stream URL
instead: random, valid for ``stream_ticket_ttl_s`` seconds, good for one stream only, stored as
its SHA-256 in PostgreSQL so any instance behind the load balancer can redeem it. It remembers the
access token that asked for it, so its stream ends when that token is revoked, as a Bearer one does.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

import asyncpg

from ..auth.tokens import AccessClaims
from ..db import q
from ..http import ApiError

MAX_LIVE_TICKETS = 10  # per account: asking in a loop cannot fill the table
_TICKET = re.compile(r"[A-Za-z0-9_-]{20,128}")


def _hash(ticket: str) -> bytes:
    return hashlib.sha256(ticket.encode("ascii")).digest()


def _invalid() -> ApiError:
    return ApiError(401, "invalid_ticket", "the stream ticket is unknown, used or expired")


async def issue(pool: asyncpg.Pool, claims: AccessClaims, ttl_s: int) -> str:
    """A new ticket for the caller of ``claims``, remembering that token so the stream it opens
    ends when the token is revoked; 429 ``too_many_tickets`` while the account holds MAX_LIVE_TICKETS."""
    ticket = secrets.token_urlsafe(32)
    async with pool.acquire() as conn:
        made = await conn.fetchval(q("stream_ticket_issue"), _hash(ticket), claims.sub, float(ttl_s), MAX_LIVE_TICKETS,
                                   claims.jti, claims.fam, claims.exp)
    if made is None:
        raise ApiError(429, "too_many_tickets", f"at most {MAX_LIVE_TICKETS} unused stream tickets at a time",
                       headers={"Retry-After": str(ttl_s)})
    return ticket


async def redeem(pool: asyncpg.Pool, ticket: str) -> tuple[uuid.UUID, AccessClaims | None]:
    """The account a ticket was issued to, and the access token that asked for it (None for a
    ticket older than that record); the ticket is spent whatever the answer (401 if it was
    unknown, used or expired)."""
    if not _TICKET.fullmatch(ticket):
        raise _invalid()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(q("stream_ticket_redeem"), _hash(ticket))
    if row is None or not row["live"]:
        raise _invalid()
    if row["access_jti"] is None:
        return row["user_id"], None
    return row["user_id"], AccessClaims(sub=row["user_id"], jti=row["access_jti"], exp=row["access_exp"],
                                        fam=row["access_family"])
