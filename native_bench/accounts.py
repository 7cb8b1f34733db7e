"""Bench accounts through the public API: register, read the verification token from the outbox,
verify, log in. Only a server whose data dir we can read has an outbox to read; against any other
``--url`` the operator hands in a verified user's token instead (``--token``)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import aiohttp

from .api import call
from .errors import BenchError

MAIL_WAIT_S = 30.0
_TOKEN = re.compile(r"token=([^\s&\"'<>]+)")


@dataclass(frozen=True)
class Target:
    base_url: str
    outbox: Path | None = None  # the target's <data-dir>/outbox, when we can read it
    token: str | None = None  # a verified user's access token, used by every client


def token_from_mail(raw: bytes, recipient: str) -> str | None:
    """The verification token in one .eml file, if that mail went to ``recipient``."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if recipient.lower() not in str(message.get("To", "")).lower():
        return None
    part = message.get_body(preferencelist=("plain", "html"))
    text = part.get_content() if part is not None else message.get_payload(decode=False)
    found = _TOKEN.search(str(text))
    return unquote(found.group(1)) if found else None


async def wait_for_token(outbox: Path, recipient: str, timeout: float = MAIL_WAIT_S) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for path in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
            try:
                token = token_from_mail(path.read_bytes(), recipient)
            except OSError:
                continue
            if token:
                return token
        if asyncio.get_running_loop().time() > deadline:
            raise BenchError(f"no verification mail for {recipient} in {outbox} after {timeout:.0f}s")
        await asyncio.sleep(0.1)


async def create_account(session: aiohttp.ClientSession, target: Target, name: str) -> str:
    """A logged-in, verified account: its Bearer access token."""
    if target.token:
        return target.token
    base = target.base_url
    address = f"{name}@example.com"
    password = secrets.token_urlsafe(18)
    await call(session, "POST", f"{base}/api/v1/auth/register", "register", 201,
               json={"email": address, "username": name, "password": password})
    if target.outbox is not None:
        token = await wait_for_token(target.outbox, address)
        await call(session, "POST", f"{base}/api/v1/auth/verify-email", "verify-email", 200,
                   json={"token": token, "username": name, "password": password})
    try:
        body = await call(session, "POST", f"{base}/api/v1/auth/login", "login", 200,
                          json={"login": address, "password": password})
    except BenchError as exc:
        if "email_not_verified" in str(exc) and target.outbox is None:
            raise BenchError(
                "the target requires email verification and its outbox is not readable here: pass "
                "--token (a verified user's access token) or --data-dir (the target's data dir)"
            ) from None
        raise
    return body["access_token"]


def account_names(count: int) -> list[str]:
    """Fresh usernames (a-z, 0-9, _; at most 30 characters) unique to this run."""
    run = secrets.token_hex(4)
    return [f"bench_{run}_{i}" for i in range(count)]
