"""Password hashing with bcrypt, off the event loop (a hash costs ~250 ms at the default rounds).

bcrypt only reads 72 bytes; validation rejects longer passwords before they get here, and bcrypt 5
raises on them anyway, so nothing is ever silently truncated.
"""

from __future__ import annotations

import asyncio
import functools

import bcrypt


def hash_password_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password_sync(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash or an over-long password: not a match
        return False


async def hash_password(password: str, rounds: int) -> str:
    return await asyncio.to_thread(hash_password_sync, password, rounds)


async def verify_password(password: str, password_hash: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password, password_hash)


@functools.cache
def dummy_hash(rounds: int) -> str:
    """A hash to check against when the user does not exist, so both paths cost the same time."""
    return hash_password_sync("not-a-real-password-just-burning-time", rounds)
