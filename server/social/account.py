"""One's own account: editing the profile, and deleting the account.

Deletion removes the ``users`` row, so the email and username are free the moment it commits;
the schema does the rest in the same transaction (0010_social.sql): likes, comments, views,
follows and blocks go by ON DELETE CASCADE and their triggers correct every counter they fed;
refresh tokens and upload sessions cascade too; posts lose their owner and are soft-deleted, so
the purge sweep removes their objects later exactly as for a post deleted by hand. The caller then
starts that purge at once rather than waiting for the periodic sweep.
"""

from __future__ import annotations

import uuid

import asyncpg

from ..auth.passwords import verify_password
from ..auth.sessions import end_all_sessions
from ..auth.tokens import AccessClaims
from ..db import q
from ..http import ApiError
from .graph import account_gone
from .validation import ProfilePatch


async def update_profile(conn: asyncpg.Connection, user_id: uuid.UUID, patch: ProfilePatch) -> None:
    """Only the fields sent change; a field sent as null or "" is cleared."""
    fields = patch.fields
    updated = await conn.fetchval(
        q("social_update_profile"), user_id, fields.get("display_name"), fields.get("bio"),
        patch.has("display_name"), patch.has("bio"),
    )
    if updated is None:
        raise account_gone()


async def delete_account(pool: asyncpg.Pool, claims: AccessClaims, password: str) -> None:
    """Check the password (401 ``invalid_credentials``), then delete everything in one transaction.
    The bcrypt check runs with no connection held: it takes a quarter of a second."""
    async with pool.acquire() as conn:
        stored = await conn.fetchval(q("social_password_hash"), claims.sub)
    if stored is None:
        raise account_gone()
    if not await verify_password(password, stored):
        raise ApiError(401, "invalid_credentials", "the password is wrong")
    async with pool.acquire() as conn:
        async with conn.transaction():
            await end_all_sessions(conn, claims)
            if await conn.fetchval(q("social_delete_account"), claims.sub) is None:
                raise account_gone()  # a concurrent deletion won
