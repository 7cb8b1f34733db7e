"""Who is calling: the Bearer access token checked for signature, claims and revocation.

Revocation is answered from memory (``revocation``), so a request with a token costs no database
round trip here. The result is cached on the request, so calling the helpers twice costs nothing.
401 answers say what the client should do: ``token_expired`` (refresh and retry), ``invalid_token``
(log in again), ``unauthorized`` (no Bearer token was sent at all).
"""

from __future__ import annotations

import uuid

from aiohttp import web

from .. import appkeys
from ..db import q
from ..http import ApiError
from ..logs import bind_user
from .revocation import is_revoked
from .tokens import AccessClaims, decode_access_token, refused

_CLAIMS = web.RequestKey("auth_claims", AccessClaims)


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "a Bearer access token is required", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def current_claims(request: web.Request) -> AccessClaims:
    """The caller's verified, unrevoked access-token claims (401 otherwise)."""
    cached = request.get(_CLAIMS)
    if cached is not None:
        return cached
    token = bearer_token(request)
    claims = decode_access_token(request.app[appkeys.SETTINGS], request.app[appkeys.JWT_KEY], token)
    if await is_revoked(request.app, claims):
        raise refused("invalid_token", "access token has been revoked; log in again")
    request[_CLAIMS] = claims
    bind_user(claims.sub)  # the access line and the request's log lines name the caller
    return claims


async def current_user_id(request: web.Request) -> uuid.UUID:
    """The caller's user id; 401 without a valid, unrevoked Bearer token."""
    return (await current_claims(request)).sub


async def require_verified_user(request: web.Request) -> uuid.UUID:
    """Like ``current_user_id``, plus 403 ``email_not_verified`` for an unverified account.

    A token for a deleted user is answered 401 ``invalid_token``, as if it were invalid."""
    user_id = await current_user_id(request)
    async with request.app[appkeys.DB].acquire() as conn:
        row = await conn.fetchrow(q("get_user_verified"), user_id)
    if row is None:
        raise refused("invalid_token", "the account no longer exists")
    if not row["verified"]:
        raise ApiError(403, "email_not_verified", "verify your email address first")
    return user_id
