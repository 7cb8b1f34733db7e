"""Refresh tokens: opaque, rotated on every use, grouped in a family per login.

Revoking a family also revokes every access token issued in it, on every instance at once (a
trigger records it in ``access_revocations``; see ``revocation``).

Rotation locks the token row, so of two refreshes racing with one token exactly one wins; the
loser finds the token already rotated, which is indistinguishable from theft, so the whole family
is revoked (the winner's new token stops working too) and the caller gets ``token_reused``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from ..config import Settings
from ..db import q
from ..http import ApiError
from .opaque import new_token, token_hash


@dataclass(frozen=True)
class Rotated:
    user_id: uuid.UUID
    family_id: uuid.UUID
    refresh_token: str


class TokenReused(ApiError):
    """401 ``token_reused``; carries the revoked family so the caller can settle its revocation."""

    def __init__(self, family_id: uuid.UUID) -> None:
        super().__init__(401, "token_reused", "refresh token was already used; every session of this login is revoked")
        self.family_id = family_id


def _refused(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


async def start_family(conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID) -> Rotated:
    """A new family (one login) and its first refresh token."""
    family_id = uuid.uuid4()
    token = new_token()
    async with conn.transaction():
        await conn.execute(q("insert_refresh_family"), family_id, user_id)
        await conn.execute(q("insert_refresh_token"), token_hash(token), family_id, user_id, settings.refresh_token_ttl_s)
    return Rotated(user_id=user_id, family_id=family_id, refresh_token=token)


async def rotate(conn: asyncpg.Connection, settings: Settings, token: str) -> Rotated:
    """Swap ``token`` for a new one in the same family, or refuse (401) and say why."""
    digest = token_hash(token)
    refusal: ApiError | None = None
    async with conn.transaction():
        row = await conn.fetchrow(q("lock_refresh_token"), digest)
        if row is None:
            raise _refused("invalid_token", "refresh token is not valid")
        if row["family_revoked"]:
            raise _refused("invalid_token", "refresh token has been revoked")
        if row["rotated"]:
            # Commit the revocation, then refuse: raising in here would roll it back.
            await conn.execute(q("revoke_refresh_family"), row["family_id"], "reuse")
            refusal = TokenReused(row["family_id"])
        elif row["expired"]:
            raise _refused("token_expired", "refresh token has expired")
        else:
            new = new_token()
            await conn.execute(q("rotate_refresh_token"), digest)
            await conn.execute(
                q("insert_refresh_token"), token_hash(new), row["family_id"], row["user_id"], settings.refresh_token_ttl_s
            )
            return Rotated(user_id=row["user_id"], family_id=row["family_id"], refresh_token=new)
    assert refusal is not None  # every other branch returned or raised
    raise refusal


async def revoke(conn: asyncpg.Connection, user_id: uuid.UUID, token: str | None) -> None:
    """Logout: the family of ``token`` if it is the caller's, else (no token) all the caller's families."""
    if token is None:
        await conn.execute(q("revoke_all_refresh_families_of_user"), user_id, "logout")
    else:
        await conn.execute(q("revoke_refresh_family_of_user"), token_hash(token), user_id, "logout")
