"""The admin API: the review queue, approve, remove. Every call checks the admin role first, so a
non-admin gets 403 whatever else is wrong with the request."""

from __future__ import annotations

from aiohttp import web

from .. import appkeys
from ..http import read_json
from ..posts.cursor import decode_cursor, encode_cursor
from ..posts.validation import parse_limit, parse_uuid
from . import decisions
from .post_views import url_for
from .queue import queue_page, reported_comments
from .roles import require_admin
from .rules import parse_removal


async def review_queue(request: web.Request) -> web.Response:
    await require_admin(request)
    limit = parse_limit(request.query.get("limit"))
    raw_cursor = request.query.get("cursor")
    after = decode_cursor(raw_cursor) if raw_cursor else None
    async with request.app[appkeys.DB].acquire() as conn:
        items, more = await queue_page(conn, url_for(request.app), limit, after)
        comments = await reported_comments(conn, limit) if after is None else []
    return web.json_response({
        "items": items,
        "next_cursor": encode_cursor(*more) if more else None,
        "reported_comments": comments,
    })


async def approve(request: web.Request) -> web.Response:
    actor = await require_admin(request)
    post_id = parse_uuid(request.match_info["post_id"])
    await decisions.approve_post(request.app[appkeys.DB], request.app[appkeys.STORE], post_id, actor)
    return web.json_response({"post_id": str(post_id), "status": "published"})


async def remove(request: web.Request) -> web.Response:
    actor = await require_admin(request)
    post_id = parse_uuid(request.match_info["post_id"])
    reason = parse_removal(await read_json(request))
    await decisions.remove_post(request.app[appkeys.DB], request.app[appkeys.STORE], post_id, reason, actor)
    return web.json_response({"post_id": str(post_id), "status": "removed", "reason": reason})
