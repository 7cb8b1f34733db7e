"""What the posts API shows of moderation: who may read a post in review or removed, the scores
and reasons its owner and admins see, and the private route to renditions held for review.

Called from ``server/posts/views.py`` so that one GET keeps one shape; everything moderation adds
to a post is decided here.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterable, Mapping

import asyncpg
from aiohttp import web

from .. import appkeys
from ..db import q
from ..http import ApiError, rfc3339
from ..posts.validation import parse_uuid
from ..storage import InvalidKey, ObjectNotFound, validate_key
from ..storage.keys import HELD_PREFIX
from .objects import content_type
from .roles import Viewer, viewer
from .rules import REMOVED, sees_moderation


def url_for(app: web.Application) -> Callable[[str], str]:
    """The store's public URL, except for held renditions: those go through the private route."""
    public = app[appkeys.STORE].public_url
    base = app[appkeys.SETTINGS].effective_public_base_url

    def build(key: str) -> str:
        if key.startswith(HELD_PREFIX):
            _, post_id, name = key.split("/", 2)
            return f"{base}/api/v1/posts/{post_id}/held/{name}"
        return public(key)

    return build


async def reader(request: web.Request, conn: asyncpg.Connection) -> Viewer:
    """Who reads a post the query already let them see (``post_visible_to``, 0010 and 0032: in
    review for its owner and admins, removed for its owner alone): what ``annotate`` needs to know."""
    if "Authorization" not in request.headers:
        return Viewer(None, False)  # the common, anonymous read costs no query
    return await viewer(request, conn)


def moderation_json(facts: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": facts["model"],
        "score": facts["score"],
        "scores": facts["scores"] or {},
        "assessed_at": rfc3339(facts["assessed_at"]),
    }
    if facts["error"]:
        body["error"] = facts["error"]
    if facts["held_by"]:
        body["held_by"], body["held_at"] = facts["held_by"], rfc3339(facts["held_at"])
    if facts["decision"]:
        body["decision"], body["decided_at"] = facts["decision"], rfc3339(facts["decided_at"])
    return body


async def annotate(
    conn: asyncpg.Connection, bodies: Iterable[dict[str, Any]], who: Viewer,
) -> None:
    """Add ``moderation`` (scores, why held, last decision) to the posts this viewer owns or, for an
    admin, to all; add ``removal: {reason, removed_at}`` to removed ones."""
    if who.user_id is None:
        return
    mine = [b for b in bodies if sees_moderation(is_owner=b["user_id"] == str(who.user_id), is_admin=who.is_admin)]
    if not mine:
        return
    rows = await conn.fetch(q("moderation_facts"), [uuid.UUID(b["id"]) for b in mine])
    facts = {str(r["post_id"]): r for r in rows}
    for body in mine:
        row = facts.get(body["id"])
        if row is None:
            continue
        body["moderation"] = moderation_json(row)
        if body["status"] == REMOVED:
            body["removal"] = {"reason": row["reason"] or "", "removed_at": rfc3339(row["decided_at"])}


async def held_rendition(request: web.Request) -> web.Response:
    """``GET /api/v1/posts/{post_id}/held/{name}``: a held rendition, for its owner and admins only
    (404 for anyone else, as for a post they cannot see)."""
    post_id = parse_uuid(request.match_info["post_id"])
    key = f"{HELD_PREFIX}{post_id}/{request.match_info['name']}"
    try:
        validate_key(key)
    except InvalidKey:
        raise ApiError(404, "not_found", "no such media") from None
    async with request.app[appkeys.DB].acquire() as conn:
        owner = await conn.fetchval(q("post_owner"), post_id)
        who = await viewer(request, conn)
        if who.user_id is None:
            raise ApiError(401, "unauthorized", "a Bearer access token is required",
                           headers={"WWW-Authenticate": "Bearer"})
        if owner is None or not (who.owns(owner) or who.is_admin):
            raise ApiError(404, "not_found", "no such media")
        if not await conn.fetchval(q("moderation_is_rendition"), post_id, key):
            raise ApiError(404, "not_found", "no such media")
    try:
        data = await request.app[appkeys.STORE].get(key)
    except ObjectNotFound:
        raise ApiError(404, "not_found", "no such media") from None
    return web.Response(body=data, content_type=content_type(key), headers={"Cache-Control": "private, no-store"})
