"""Sign-up and email verification, safe against squatting and takeover.

- A sign-up does not own its email until it is verified: any number of live, unverified sign-ups
  may name one address, so a squatter's cannot block the owner's. Only the username is reserved
  (unique among all accounts), and only until the sign-up expires (``unverified_account_ttl_s``).
- A verification link belongs to the address, not to a sign-up. Whoever holds the mailbox opens
  it and confirms with the username and password of *their* sign-up, so verifying only ever
  activates a password that the mailbox holder knows: a squatter's sign-up cannot be activated by
  the owner clicking a link, nor by the squatter, who never sees it. The winning sign-up takes the
  address; the others for that address are deleted, freeing their usernames.
- Signing up with an address that already has a verified account answers exactly as a new
  sign-up does (201, a fresh-looking id), costs the same bcrypt work, creates nothing, and mails
  the owner a notice instead: the answer tells nobody which addresses have accounts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import EmailMessage

import asyncpg

from ..config import Settings
from ..db import q
from ..http import ApiError
from . import mailing
from .opaque import new_token, token_hash
from .passwords import verify_password
from .validation import Registration

USERNAME_INDEX = "users_username_lower_idx"
VERIFIED_EMAIL_INDEX = "users_verified_email_idx"


def username_taken() -> ApiError:
    return ApiError(409, "username_taken", "this username is taken", details={"field": "username"})


@dataclass(frozen=True)
class SignedUp:
    answer: dict[str, object]  # the 201 body, the same shape whatever happened
    mail: EmailMessage | None


async def new_link(conn: asyncpg.Connection, settings: Settings, purpose: str, address: str,
                   user_id: uuid.UUID | None, ttl_s: int) -> str:
    """A fresh link token for ``address``; the older unused ones of that purpose stop working."""
    token = new_token()
    await conn.execute(q("supersede_email_tokens"), purpose, address)
    await conn.execute(q("insert_email_token"), token_hash(token), purpose, address, user_id, ttl_s)
    return token


async def sign_up(conn: asyncpg.Connection, settings: Settings, form: Registration, password_hash: str) -> SignedUp:
    """Create the sign-up (or, for a verified address, nothing) and say which mail to send."""
    address = form.email.lower()
    answer: dict[str, object] = {"id": str(uuid.uuid4()), "email": form.email, "username": form.username,
                                 "email_verified": False}
    try:
        async with conn.transaction():
            await conn.execute(q("drop_expired_signups_for"), form.email, form.username, settings.unverified_account_ttl_s)
            taken = await conn.fetchrow(q("find_taken"), form.email, form.username)
            if taken["username_taken"]:
                raise username_taken()
            if taken["email_verified"]:
                owner = await conn.fetchrow(q("find_verified_by_email"), form.email)
                mail = None
                if await mailing.may_mail(conn, settings, address):
                    mail = mailing.already_registered_mail(settings, owner["email"], owner["username"])
                return SignedUp(answer, mail)
            user = await conn.fetchrow(q("insert_user"), uuid.UUID(str(answer["id"])), form.email, form.username,
                                       password_hash)
            mail = None
            if await mailing.may_mail(conn, settings, address):
                token = await new_link(conn, settings, "verify", address, None, settings.verify_token_ttl_s)
                mail = mailing.verification_mail(settings, user["email"], user["username"], token)
            return SignedUp(answer, mail)
    except asyncpg.UniqueViolationError as exc:  # lost a race with a concurrent sign-up
        if exc.constraint_name == USERNAME_INDEX:
            raise username_taken() from None
        raise


async def resend(conn: asyncpg.Connection, settings: Settings, email: str) -> EmailMessage | None:
    """A fresh verification link for an address with a live sign-up, within its mail budget."""
    address = email.lower()
    async with conn.transaction():
        spelled = await conn.fetchval(q("newest_live_signup"), email, settings.unverified_account_ttl_s)
        if spelled is None or not await mailing.may_mail(conn, settings, address):
            return None
        token = await new_link(conn, settings, "verify", address, None, settings.verify_token_ttl_s)
    return mailing.verification_mail(settings, spelled, None, token)


def _spent_or_unknown() -> ApiError:
    return ApiError(400, "invalid_token", "this link is unknown, already used, or replaced by a newer one")


def _expired() -> ApiError:
    return ApiError(400, "token_expired", "this link has expired; ask for a new one")


async def _open_link(conn: asyncpg.Connection, token: str, purpose: str) -> asyncpg.Record:
    """The link's row, locked (inside a transaction), or the 400 saying why it cannot be used."""
    row = await conn.fetchrow(q("get_email_token"), token_hash(token), purpose)
    if row is None or row["used"]:
        raise _spent_or_unknown()
    if row["expired"]:
        raise _expired()
    return row


async def verify(pool: asyncpg.Pool, settings: Settings, token: str, username: str, password: str) -> uuid.UUID:
    """Activate the caller's own sign-up for the link's address; the id of the account."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            link = await _open_link(conn, token, "verify")  # checked before any bcrypt work
        signup = await conn.fetchrow(q("find_signup"), link["email"], username.strip(), settings.unverified_account_ttl_s)
    # Outside any transaction: bcrypt takes a while and must not hold the link's row lock.
    if signup is None or not await verify_password(password, signup["password_hash"]):
        raise ApiError(401, "invalid_credentials", "no sign-up for this address has that username and password")
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await _open_link(conn, token, "verify")  # still unspent (two clicks at once)?
                await conn.execute(q("spend_email_token"), token_hash(token))
                await conn.execute(q("supersede_email_tokens"), "verify", link["email"])
                await conn.execute(q("mark_user_verified"), signup["id"])
                await conn.execute(q("drop_other_signups"), link["email"], signup["id"])
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == VERIFIED_EMAIL_INDEX:  # verified by someone else a moment ago
                raise _spent_or_unknown() from None
            raise
    return signup["id"]


async def open_reset_link(conn: asyncpg.Connection, token: str) -> asyncpg.Record:
    """Inside a transaction: the reset link's row (email, user_id), locked, or a 400."""
    link = await _open_link(conn, token, "reset")
    if link["user_id"] is None:
        raise _spent_or_unknown()
    return link


async def spend_reset_link(conn: asyncpg.Connection, token: str) -> asyncpg.Record:
    """Like ``open_reset_link``, and spend it."""
    link = await open_reset_link(conn, token)
    await conn.execute(q("spend_email_token"), token_hash(token))
    return link
