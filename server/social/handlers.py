"""HTTP endpoints of the social graph and engagement (DESIGN.md "Social"). Thin: parse, check the
caller, count against the rate limit, call the module that owns the action, answer JSON.

Public reads (profiles, lists) take an optional Bearer: with one, accounts across a block from the
caller are absent and ``followed_by_me`` / ``blocked_by_me`` are filled in; a bad token is a 401,
never a silent anonymous view. Writes need a verified account.
"""

from __future__ import annotations

import uuid
from typing import Any, Awaitable, Callable

import asyncpg
from aiohttp import web

from .. import appkeys
from ..auth import current_user_id, require_verified_user
from ..auth.context import current_claims
from ..db import q
from ..feed import announce
from ..http import ApiError, read_json
from ..posts import purge_soon
from ..posts.validation import parse_limit, parse_uuid
from . import account, engagement, graph, limits, lists, rules
from .serialize import comment_json, profile_json
from .validation import UserRef, parse_comment, parse_password, parse_profile_patch, parse_user_ref

ME = "me"


async def _viewer(request: web.Request) -> uuid.UUID | None:
    if "Authorization" not in request.headers:
        return None
    return await current_user_id(request)


def _pool(request: web.Request) -> asyncpg.Pool:
    return request.app[appkeys.DB]


def _ref(raw: str, viewer: uuid.UUID | None) -> UserRef:
    """``{user}``: ``me`` (the caller; 401 without a token), an id or a username."""
    if raw == ME:
        if viewer is None:
            raise ApiError(401, "unauthorized", "a Bearer access token is required for 'me'",
                           headers={"WWW-Authenticate": "Bearer"})
        return UserRef(id=viewer)
    return parse_user_ref(raw)


def _page(request: web.Request) -> lists.PageRequest:
    return lists.PageRequest.parse(parse_limit(request.query.get("limit")), request.query.get("cursor"))


async def _target(conn: asyncpg.Connection, request: web.Request, viewer: uuid.UUID | None) -> asyncpg.Record:
    """The account in the path, visible to ``viewer`` (404 across a block)."""
    row = await graph.find_account(conn, _ref(request.match_info["user"], viewer), viewer)
    rules.check_profile_visible(graph.relation_of(row))
    return row


# -- profiles and one's own account ----------------------------------------------------------------

async def get_profile(request: web.Request) -> web.Response:
    viewer = await _viewer(request)
    async with _pool(request).acquire() as conn:
        row = await _target(conn, request, viewer)
    return web.json_response(profile_json(row, viewer))


async def patch_me(request: web.Request) -> web.Response:
    user_id = await require_verified_user(request)
    patch = parse_profile_patch(await read_json(request))
    async with _pool(request).acquire() as conn:
        await account.update_profile(conn, user_id, patch)
        row = await graph.find_account(conn, UserRef(id=user_id), user_id)
    return web.json_response(profile_json(row, user_id))


async def delete_me(request: web.Request) -> web.Response:
    claims = await current_claims(request)
    password = parse_password(await read_json(request))
    async with _pool(request).acquire() as conn:
        await limits.hit(conn, request.app[appkeys.SETTINGS], limits.DELETE_ACCOUNT, claims.sub)
    await account.delete_account(_pool(request), claims, password)
    purge_soon(request.app)  # the account's posts were soft-deleted with it
    return web.Response(status=204)


# -- the graph ---------------------------------------------------------------------------------------

async def _edge_action(request: web.Request, limit_action: str | None,
                       action: Callable[[asyncpg.Connection, uuid.UUID, uuid.UUID], Awaitable[Any]]) -> Any:
    """A graph write by a verified caller on the account in the path: resolve it (404 if none),
    count the attempt, act. Its relation to the caller is judged inside the action's transaction."""
    actor = await require_verified_user(request)
    ref = _ref(request.match_info["user"], actor)
    async with _pool(request).acquire() as conn:
        target = (await graph.find_account(conn, ref, actor))["id"]
        if limit_action is not None:
            await limits.hit(conn, request.app[appkeys.SETTINGS], limit_action, actor)
        return await action(conn, actor, target)


async def _follow(request: web.Request, action: Callable[..., Awaitable[graph.FollowResult]]) -> web.Response:
    result = await _edge_action(request, limits.FOLLOW, action)
    announce(request.app, result.notify)
    return web.json_response({"following": result.following, "followers_count": result.followers_count})


async def put_follow(request: web.Request) -> web.Response:
    return await _follow(request, graph.follow)


async def delete_follow(request: web.Request) -> web.Response:
    return await _follow(request, graph.unfollow)


async def _block(request: web.Request, action: Callable[..., Awaitable[bool]]) -> web.Response:
    return web.json_response({"blocked": await _edge_action(request, None, action)})


async def put_block(request: web.Request) -> web.Response:
    return await _block(request, graph.block)


async def delete_block(request: web.Request) -> web.Response:
    return await _block(request, graph.unblock)


async def _account_list(request: web.Request, spec: lists.ListSpec) -> web.Response:
    viewer = await _viewer(request)
    req = _page(request)
    async with _pool(request).acquire() as conn:
        row = await _target(conn, request, viewer)
        body = await lists.page(conn, spec, row["id"], req, viewer)
    return web.json_response(body)


async def get_followers(request: web.Request) -> web.Response:
    return await _account_list(request, lists.FOLLOWERS)


async def get_following(request: web.Request) -> web.Response:
    return await _account_list(request, lists.FOLLOWING)


async def get_my_blocks(request: web.Request) -> web.Response:
    """Private: whom the caller blocks (their profiles answer 404 to the caller, so this is where
    an app finds them to unblock)."""
    user_id = await current_user_id(request)
    req = _page(request)
    async with _pool(request).acquire() as conn:
        body = await lists.page(conn, lists.BLOCKS, user_id, req, user_id)
    return web.json_response(body)


# -- engagement --------------------------------------------------------------------------------------

async def _like(request: web.Request, action: Callable[..., Awaitable[engagement.LikeResult]]) -> web.Response:
    actor = await require_verified_user(request)
    post_id = parse_uuid(request.match_info["post_id"])
    async with _pool(request).acquire() as conn:  # one connection: each release costs a round trip
        await limits.hit(conn, request.app[appkeys.SETTINGS], limits.LIKE, actor)
        result = await action(conn, post_id, actor)
    announce(request.app, result.notify)
    return web.json_response({"liked": result.liked, "like_count": result.like_count})


async def put_like(request: web.Request) -> web.Response:
    return await _like(request, engagement.like)


async def delete_like(request: web.Request) -> web.Response:
    return await _like(request, engagement.unlike)


async def post_comment(request: web.Request) -> web.Response:
    actor = await require_verified_user(request)
    post_id = parse_uuid(request.match_info["post_id"])
    body = parse_comment(await read_json(request))
    async with _pool(request).acquire() as conn:
        await limits.hit(conn, request.app[appkeys.SETTINGS], limits.COMMENT, actor)
        result = await engagement.add_comment(conn, post_id, actor, body)
    announce(request.app, result.notify)
    return web.json_response(comment_json(result.row), status=201)


async def delete_comment(request: web.Request) -> web.Response:
    actor = await require_verified_user(request)
    comment_id = parse_uuid(request.match_info["comment_id"])
    async with _pool(request).acquire() as conn:
        await engagement.delete_comment(conn, comment_id, actor)
    return web.Response(status=204)


async def post_view(request: web.Request) -> web.Response:
    actor = await require_verified_user(request)
    post_id = parse_uuid(request.match_info["post_id"])
    async with _pool(request).acquire() as conn:
        await engagement.count_view(conn, post_id, actor)
    return web.Response(status=204)


async def _post_list(request: web.Request, spec: lists.ListSpec) -> web.Response:
    viewer = await _viewer(request)
    post_id = parse_uuid(request.match_info["post_id"])
    req = _page(request)
    async with _pool(request).acquire() as conn:
        post = await conn.fetchrow(q("social_post_for"), post_id, viewer)
        if post is None or not post["visible"]:
            raise rules.post_not_found()
        body: dict[str, Any] = await lists.page(conn, spec, post_id, req, viewer)
    return web.json_response(body)


async def get_likes(request: web.Request) -> web.Response:
    return await _post_list(request, lists.LIKERS)


async def get_comments(request: web.Request) -> web.Response:
    return await _post_list(request, lists.COMMENTS)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_patch("/api/v1/users/me", patch_me)
    r.add_delete("/api/v1/users/me", delete_me)
    r.add_get("/api/v1/users/me/blocks", get_my_blocks)
    r.add_get("/api/v1/users/{user}", get_profile)
    r.add_put("/api/v1/users/{user}/follow", put_follow)
    r.add_delete("/api/v1/users/{user}/follow", delete_follow)
    r.add_put("/api/v1/users/{user}/block", put_block)
    r.add_delete("/api/v1/users/{user}/block", delete_block)
    r.add_get("/api/v1/users/{user}/followers", get_followers)
    r.add_get("/api/v1/users/{user}/following", get_following)
    r.add_put("/api/v1/posts/{post_id}/like", put_like)
    r.add_delete("/api/v1/posts/{post_id}/like", delete_like)
    r.add_get("/api/v1/posts/{post_id}/likes", get_likes)
    r.add_post("/api/v1/posts/{post_id}/comments", post_comment)
    r.add_get("/api/v1/posts/{post_id}/comments", get_comments)
    r.add_post("/api/v1/posts/{post_id}/views", post_view)
    r.add_delete("/api/v1/comments/{comment_id}", delete_comment)
