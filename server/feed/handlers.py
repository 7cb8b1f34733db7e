"""HTTP endpoints of the feed and notifications (DESIGN.md "Social"). Thin: parse, identify the
caller, call the module that owns the work, answer JSON (or an event stream)."""

from __future__ import annotations

import functools
import uuid
from typing import Awaitable, Callable

from aiohttp import web

from .. import appkeys
from ..auth import current_user_id
from ..auth.context import current_claims
from ..auth.revocation import is_revoked
from ..auth.tokens import AccessClaims
from ..http import ApiError, read_json
from ..posts.cursor import decode_cursor
from ..posts.validation import parse_limit
from . import home, inbox, rules, stream, tickets


async def get_feed(request: web.Request) -> web.Response:
    viewer = await current_user_id(request)
    limit = parse_limit(request.query.get("limit"))
    raw = request.query.get("cursor")
    after = decode_cursor(raw) if raw else None
    async with request.app[appkeys.DB].acquire() as conn:
        body = await home.page(conn, viewer, limit, after, request.app[appkeys.STORE].public_url)
    return web.json_response(body)


async def get_notifications(request: web.Request) -> web.Response:
    recipient = await current_user_id(request)
    limit = parse_limit(request.query.get("limit"))
    after = rules.list_cursor(request.query.get("cursor"))
    unread = rules.unread_only(request.query.get("unread_only"))
    async with request.app[appkeys.DB].acquire() as conn:
        body = await inbox.page(conn, recipient, limit, after, unread)
    return web.json_response(body)


async def post_read(request: web.Request) -> web.Response:
    recipient = await current_user_id(request)
    req = rules.parse_read(await read_json(request))
    async with request.app[appkeys.DB].acquire() as conn:
        body = await inbox.mark_read(conn, recipient, req)
    return web.json_response(body)


async def post_stream_ticket(request: web.Request) -> web.Response:
    claims = await current_claims(request)
    ttl = request.app[appkeys.SETTINGS].stream_ticket_ttl_s
    ticket = await tickets.issue(request.app[appkeys.DB], claims, ttl)
    return web.json_response({"ticket": ticket, "expires_in": ttl}, status=201,
                             headers={"Cache-Control": "no-store"})


async def _stream_user(request: web.Request) -> tuple[uuid.UUID, Callable[[], Awaitable[bool]] | None]:
    """A Bearer token (apps), else a stream ticket in the query (browsers' EventSource); and how
    the stream asks whether the token behind either has been revoked since (from memory)."""
    if "Authorization" in request.headers:
        bearer = await current_claims(request)
        user_id, claims = bearer.sub, bearer
    else:
        ticket = request.query.get("ticket")
        if ticket is None:
            raise ApiError(401, "unauthorized", "send a Bearer token, or a ticket from POST "
                           "/api/v1/notifications/stream-ticket", headers={"WWW-Authenticate": "Bearer"})
        user_id, claims = await tickets.redeem(request.app[appkeys.DB], ticket)
    return user_id, (functools.partial(is_revoked, request.app, claims) if claims is not None else None)


async def get_stream(request: web.Request) -> web.StreamResponse:
    # EventSource sends the header when it reconnects by itself; a browser app that opens a new
    # one (its ticket was spent) can only put the id in the URL.
    resume = rules.last_event_id(request.headers.get("Last-Event-ID") or request.query.get("last_event_id"))
    user_id, revoked = await _stream_user(request)
    return await stream.run(request, request.app[appkeys.DB], user_id, resume, revoked)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/feed", get_feed)
    r.add_get("/api/v1/notifications", get_notifications)
    r.add_post("/api/v1/notifications/read", post_read)
    r.add_post("/api/v1/notifications/stream-ticket", post_stream_ticket)
    r.add_get("/api/v1/notifications/stream", get_stream)
