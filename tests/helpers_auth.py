"""Test helper: a verified user with a valid access token, inserted straight into the database.

For tests of other areas (posts, media) that need a logged-in caller without going through mail.
"""

from __future__ import annotations

import uuid

import asyncpg

from server.auth.passwords import hash_password
from server.auth.tokens import issue_access_token
from server.config import Settings

KNOWN_PASSWORD = "correct horse battery staple"


async def create_verified_user(
    pool: asyncpg.Pool,
    settings: Settings,
    jwt_key: str,
    email: str | None = None,
    username: str | None = None,
    password: str = KNOWN_PASSWORD,
    verified: bool = True,
) -> tuple[uuid.UUID, str]:
    """(user_id, access_token) for a new user; email/username default to unique values."""
    user_id = uuid.uuid4()
    suffix = user_id.hex[:10]
    username = username or f"user_{suffix}"
    email = email or f"{username}@example.org"
    password_hash = await hash_password(password, settings.bcrypt_rounds)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO users (id, email, username, password_hash, email_verified_at)"
            " VALUES ($1, $2, $3, $4, CASE WHEN $5::bool THEN now() END)",
            user_id, email, username.lower(), password_hash, verified,
        )
    token, _ = issue_access_token(settings, jwt_key, user_id)
    return user_id, token
