"""Test helper: a verified user with a valid access token, inserted straight into the database.

For tests of other areas (posts, media) that need a logged-in caller without going through mail.
"""

from __future__ import annotations

import re
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

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


# -- going through the real API and the file outbox --------------------------------------------

_LINK_TOKEN = re.compile(r"/account/verify-email\?token=([A-Za-z0-9_\-]+)")
_RESET_TOKEN = re.compile(r"/account/reset-password\?token=([A-Za-z0-9_\-]+)")


def outbox_mails(data_dir: Path) -> list[EmailMessage]:
    """Every mail in ``<data_dir>/outbox``, oldest first (file names start with a timestamp)."""
    outbox = Path(data_dir) / "outbox"
    files = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    return [BytesParser(policy=policy.default).parsebytes(f.read_bytes()) for f in files]


def _newest_link(data_dir: Path, to: str, pattern: re.Pattern[str]) -> str:
    for mail in reversed(outbox_mails(data_dir)):
        if mail["To"] == to:
            match = pattern.search(mail.get_content())
            if match:
                return match.group(1)
    raise AssertionError(f"no mail with such a link for {to} in {data_dir}/outbox")


def verification_token(data_dir: Path, to: str) -> str:
    """The token from the newest verification mail sent to ``to``."""
    return _newest_link(data_dir, to, _LINK_TOKEN)


def reset_token(data_dir: Path, to: str) -> str:
    """The token from the newest password-reset mail sent to ``to``."""
    return _newest_link(data_dir, to, _RESET_TOKEN)


async def register_and_login(client, data_dir: Path, username: str = "alice", password: str = KNOWN_PASSWORD) -> dict:
    """Register, verify through the mailed token, log in: the login response body."""
    email = f"{username}@example.org"
    resp = await client.post("/api/v1/auth/register", json={"email": email, "username": username, "password": password})
    assert resp.status == 201, await resp.text()
    resp = await client.post("/api/v1/auth/verify-email",
                             json={"token": verification_token(data_dir, email), "username": username, "password": password})
    assert resp.status == 200, await resp.text()
    resp = await client.post("/api/v1/auth/login", json={"login": username, "password": password})
    assert resp.status == 200, await resp.text()
    return await resp.json()
