"""The admin role: who is calling and whether they may moderate.

Looked up on every call rather than put in the access token, so ``revoke-admin`` takes effect on
the next request, not when the token expires.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from .. import appkeys
from ..auth import current_user_id
from ..db import q
from ..http import ApiError
from .audit import Actor, record

_VIEWER = web.RequestKey("moderation_viewer", object)


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID | None
    is_admin: bool

    def owns(self, owner_id: uuid.UUID) -> bool:
        return self.user_id is not None and self.user_id == owner_id


async def viewer(request: web.Request, conn: asyncpg.Connection) -> Viewer:
    """The caller (anonymous without a token; a bad token is a 401, never silently anonymous)."""
    cached = request.get(_VIEWER)
    if isinstance(cached, Viewer):
        return cached
    user_id = await current_user_id(request) if "Authorization" in request.headers else None
    is_admin = bool(user_id and await conn.fetchval(q("moderation_is_admin"), user_id))
    found = Viewer(user_id, is_admin)
    request[_VIEWER] = found
    return found


async def require_admin(request: web.Request) -> Actor:
    """401 without a valid token, 403 ``admin_required`` for everyone but admins."""
    user_id = await current_user_id(request)
    async with request.app[appkeys.DB].acquire() as conn:
        row = await conn.fetchrow(q("moderation_admin"), user_id)
    if row is None:
        raise ApiError(403, "admin_required", "this needs an admin account")
    return Actor.user(row["id"], row["username"])


class UnknownLogin(LookupError):
    pass


async def set_admin(conn: asyncpg.Connection, login: str, admin: bool, actor: Actor) -> tuple[str, bool]:
    """Grant or revoke; (username, whether anything changed). Audited like every decision."""
    async with conn.transaction():
        user = await conn.fetchrow(q("moderation_user_by_login"), login.strip())
        if user is None:
            raise UnknownLogin(login)
        changed = await conn.fetchval(q("moderation_grant_admin" if admin else "moderation_revoke_admin"), user["id"])
        if changed is not None:
            await record(conn, actor, "grant_admin" if admin else "revoke_admin", user_id=user["id"])
    return user["username"], changed is not None
