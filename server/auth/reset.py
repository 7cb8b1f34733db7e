"""Password reset: a single-use, expiring link mailed to a verified address; using it sets a new
password and revokes every session and access token of the account on every instance.

Asking is always answered 202, and the mail is sent in the background, so neither the answer nor
its timing tells whether the address has an account. Only verified accounts get a link.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage

import asyncpg
from aiohttp import web

from .. import appkeys
from ..config import Settings
from ..db import q
from . import mailing, revocation
from .passwords import hash_password
from .signup import new_link, open_reset_link, spend_reset_link
from .strength import require_strong
from .validation import check_password


async def request_link(conn: asyncpg.Connection, settings: Settings, email: str) -> EmailMessage | None:
    """The reset mail to send, if the address has a verified account and mail budget left."""
    async with conn.transaction():
        user = await conn.fetchrow(q("find_verified_by_email"), email)
        if user is None or not await mailing.may_mail(conn, settings, email.lower()):
            return None
        token = await new_link(conn, settings, "reset", email.lower(), user["id"], settings.reset_token_ttl_s)
    return mailing.reset_mail(settings, user["email"], user["username"], token)


async def confirm(app: web.Application, token: str, password: str) -> uuid.UUID:
    """Set the new password and revoke every login; the account's id. 400 for a bad link or a
    weak password (the link is not spent by a refused password)."""
    settings = app[appkeys.SETTINGS]
    check_password(password)
    async with app[appkeys.DB].acquire() as conn:
        async with conn.transaction():
            link = await open_reset_link(conn, token)
            user = await conn.fetchrow(q("get_user"), link["user_id"])
        await require_strong(password, [user["email"], user["username"]], settings.password_min_score)
        password_hash = await hash_password(password, settings.bcrypt_rounds)
        async with conn.transaction():
            link = await spend_reset_link(conn, token)  # again, locked: two submits cannot both win
            await conn.execute(q("set_password"), link["user_id"], password_hash)
            await conn.execute(q("supersede_email_tokens"), "reset", link["email"])
            revoked = await conn.fetch(q("revoke_all_refresh_families_of_user"), link["user_id"], "password_reset")
    if revoked:  # one family's NOTIFY stands for the whole commit
        await revocation.settle(app, "family", revoked[0]["id"])
    return link["user_id"]
