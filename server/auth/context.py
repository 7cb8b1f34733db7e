"""Who is calling: the Bearer access token checked for signature, claims and revocation.

Both helpers are ``async`` because revocation needs one indexed lookup (``revoked_access_tokens``
by primary key). The result is cached on the request, so calling them twice costs nothing.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from .. import appkeys
from ..db import q
from ..http import ApiError
from ..logs import bind_user
from .tokens import AccessClaims, decode_access_token

_CLAIMS = web.RequestKey("auth_claims", AccessClaims)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers=_CHALLENGE)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("a Bearer access token is required")
    return token.strip()


async def current_claims(request: web.Request) -> AccessClaims:
    """The caller's verified, unrevoked access-token claims (401 ``unauthorized`` otherwise)."""
    cached = request.get(_CLAIMS)
    if cached is not None:
        return cached
    token = bearer_token(request)
    try:
        claims = decode_access_token(request.app[appkeys.SETTINGS], request.app[appkeys.JWT_KEY], token)
    except ApiError as exc:
        raise _unauthorized(exc.message) from None
    async with request.app[appkeys.DB].acquire() as conn:
        if await conn.fetchval(q("is_access_token_revoked"), claims.jti):
            raise _unauthorized("access token has been revoked")
    request[_CLAIMS] = claims
    bind_user(claims.sub)  # the access line and the request's log lines name the caller
    return claims


async def current_user_id(request: web.Request) -> uuid.UUID:
    """The caller's user id; 401 ``unauthorized`` without a valid, unrevoked Bearer token."""
    return (await current_claims(request)).sub


async def require_verified_user(request: web.Request) -> uuid.UUID:
    """Like ``current_user_id``, plus 403 ``email_not_verified`` for an unverified account.

    A token for a deleted user is answered 401, as if it were invalid."""
    user_id = await current_user_id(request)
    async with request.app[appkeys.DB].acquire() as conn:
        row = await conn.fetchrow(q("get_user_verified"), user_id)
    if row is None:
        raise _unauthorized("the account no longer exists")
    if not row["verified"]:
        raise ApiError(403, "email_not_verified", "verify your email address first")
    return user_id
