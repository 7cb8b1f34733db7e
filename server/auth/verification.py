"""Email verification: a single-use, expiring token mailed as a link, stored only as its SHA-256."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from urllib.parse import urlencode

import asyncpg

from ..config import Settings
from ..db import q
from ..http import ApiError
from ..mail import compose
from .opaque import new_token, token_hash

VERIFY_PATH = "/api/v1/auth/verify-email"


async def create_token(conn: asyncpg.Connection, settings: Settings, user_id: uuid.UUID) -> str:
    token = new_token()
    await conn.execute(q("insert_verification_token"), token_hash(token), user_id, settings.verify_token_ttl_s)
    return token


def verification_link(settings: Settings, token: str) -> str:
    return f"{settings.effective_public_base_url}{VERIFY_PATH}?{urlencode({'token': token})}"


def verification_mail(settings: Settings, to: str, username: str, token: str) -> EmailMessage:
    hours = max(1, settings.verify_token_ttl_s // 3600)
    body = (
        f"Hello {username},\n\n"
        "please confirm your email address for imagepipe by opening this link:\n\n"
        f"{verification_link(settings, token)}\n\n"
        f"The link works once and expires in {hours} hour(s). If you did not sign up, ignore this mail.\n"
    )
    return compose(settings.mail_from, to, "Confirm your email address", body)


async def consume(conn: asyncpg.Connection, token: str) -> uuid.UUID:
    """Mark the token used and its user verified, or 400 ``invalid_token`` / ``token_expired``."""
    digest = token_hash(token)
    async with conn.transaction():
        # Locked, so two clicks at once cannot both use it.
        row = await conn.fetchrow(q("lock_verification_token"), digest)
        if row is None or row["used"]:
            raise ApiError(400, "invalid_token", "verification token is unknown or already used")
        if row["expired"]:
            raise ApiError(400, "token_expired", "verification token has expired; ask for a new mail (POST /api/v1/auth/resend-verification)")
        await conn.execute(q("use_verification_token"), digest)
        await conn.execute(q("mark_user_verified"), row["user_id"])
    return row["user_id"]
