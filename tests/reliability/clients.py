"""The torture's users: accounts uploading through whichever instance answers.

An upload is *accepted* when ``upload/complete`` answered 200; only accepted uploads are owed a
final state. Every step is retried until it gets a real answer: a connection refused or timed out
(an instance killed, restarting or paused) moves to the other instance, a 503 (or 429) waits its
``Retry-After``, a 401 logs in again. A 4xx that a correct client cannot cause is recorded as an
error of the run. The presigned PUT URL names the instance that signed it; both instances share the
data dir's signing key, so it is sent to whichever instance is up.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import aiohttp

from native_bench.accounts import wait_for_token

REQUEST_TIMEOUT_S = 8.0
GIVE_UP_S = 600.0


class Unexpected(Exception):
    """An answer no fault excuses (a 4xx other than 401, a 500)."""


@dataclass
class Account:
    name: str
    password: str
    token: str = ""


@dataclass
class Accepted:
    post_id: str
    account: str
    good: bool  # a valid photo (owed "published"); else a corrupt one (owed "failed" with a reason)
    at: float


@dataclass
class Traffic:
    accepted: list[Accepted] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retries: dict[str, int] = field(default_factory=dict)
    status_503: int = 0

    def retried(self, why: str) -> None:
        self.retries[why] = self.retries.get(why, 0) + 1


class Users:
    """HTTP against the live instances; ``bases`` is asked anew on every attempt."""

    def __init__(self, bases: Callable[[], list[str]], outbox, traffic: Traffic, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
        self.bases = bases
        self.outbox = outbox
        self.traffic = traffic
        self.rng = rng
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Users":
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S), connector=aiohttp.TCPConnector(limit=64))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def request(self, method: str, path: str, *, account: Account | None = None, json: Any = None,
                      data: bytes | None = None, headers: dict[str, str] | None = None,
                      ok: tuple[int, ...] = (200, 201)) -> tuple[int, dict]:
        """One call, retried across instances and outages until it gets an answer in ``ok``."""
        assert self.session is not None
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            if time.monotonic() > deadline:
                raise Unexpected(f"{method} {path}: no answer for {GIVE_UP_S:.0f}s")
            live = self.bases()
            if not live:
                await asyncio.sleep(0.2)
                continue
            base = self.rng.choice(live)
            sent = dict(headers or {})
            if account is not None and account.token:
                sent["Authorization"] = f"Bearer {account.token}"
            try:
                async with self.session.request(method, base + path, json=json, data=data, headers=sent) as resp:
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
                    try:
                        body = await resp.json(content_type=None)
                    except ValueError:
                        body = {"raw": (await resp.text())[:200]}
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                self.traffic.retried(type(exc).__name__)
                await asyncio.sleep(0.1)
                continue
            if status in ok:
                return status, body if isinstance(body, dict) else {}
            if status in (503, 429) and retry_after:
                self.traffic.status_503 += status == 503
                self.traffic.retried(str(status))
                await asyncio.sleep(min(float(retry_after or 1), 3.0) * self.rng.uniform(0.5, 1.0))
                continue
            if status == 401 and account is not None:
                self.traffic.retried("401")
                await self.login(account)
                continue
            raise Unexpected(f"{method} {path}: HTTP {status} {body}")

    async def register(self, name: str) -> Account:
        account = Account(name, secrets.token_urlsafe(18))
        email = f"{name}@example.org"
        await self.request("POST", "/api/v1/auth/register", json={"email": email, "username": name, "password": account.password}, ok=(201,))
        token = await wait_for_token(self.outbox, email, timeout=120)
        await self.request("POST", "/api/v1/auth/verify-email", ok=(200,),
                           json={"token": token, "username": name, "password": account.password})
        await self.login(account)
        return account

    async def login(self, account: Account) -> None:
        _, body = await self.request("POST", "/api/v1/auth/login", json={"login": account.name, "password": account.password}, ok=(200,))
        account.token = body["access_token"]

    async def upload(self, account: Account, data: bytes, good: bool) -> Accepted:
        digest = hashlib.sha256(data).hexdigest()
        _, grant = await self.request("POST", "/api/v1/posts/upload/init", account=account, json={
            "filename": "photo.jpg", "content_type": "image/jpeg", "file_size": len(data), "file_hash": digest,
        }, ok=(201,))
        signed = urlsplit(grant["presigned_url"])
        path = f"{signed.path}?{signed.query}"
        # 412: an earlier try of this PUT landed and only its answer was lost.
        await self.request(grant.get("upload_method", "PUT"), path, data=data, headers=grant.get("upload_headers") or {},
                           ok=(200, 201, 204, 412))
        await self.request("POST", "/api/v1/posts/upload/complete", account=account, json={
            "post_id": grant["post_id"], "upload_token": grant["upload_token"], "file_hash": digest, "file_size": len(data),
        }, ok=(200,))
        accepted = Accepted(grant["post_id"], account.name, good, time.monotonic())
        self.traffic.accepted.append(accepted)
        return accepted


def photo_source(base: bytes, number: int, good: bool) -> bytes:
    """Distinct bytes per upload (decoders ignore what follows the end marker); a corrupt one is a
    JPEG cut in half, which the decoder must refuse (``image_corrupt``), never publish as grey."""
    if good:
        return base + number.to_bytes(4, "big")
    return base[: len(base) // 2]


async def run_uploads(users: Users, accounts: list[Account], base: bytes, n: int, concurrency: int,
                      bad_every: int, on_accepted: Callable[[int], None]) -> None:
    """``n`` uploads, ``concurrency`` at a time, round robin over the accounts."""
    counter = iter(range(n))

    async def worker() -> None:
        for number in counter:
            good = bad_every <= 0 or number % bad_every != bad_every - 1
            try:
                await users.upload(accounts[number % len(accounts)], photo_source(base, number, good), good)
            except Unexpected as exc:
                users.traffic.errors.append(str(exc))
            on_accepted(len(users.traffic.accepted))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
