"""Test helper for moderation: the real app with its real pipeline (process pool, libvips, the
classifier when configured) on a real port, accounts of every kind, and short request helpers."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from helpers_auth import create_verified_user
from helpers_posts import put_presigned, sha256
from serverproc import free_port
from server import appkeys
from server.app import create_app
from server.config import Settings
from server.moderation import Actor
from server.moderation.roles import set_admin

SETTLED = ("published", "failed", "in_review", "removed")


@dataclass
class ModApi:
    client: Any  # aiohttp TestClient
    app: Any
    pool: asyncpg.Pool
    settings: Settings

    @property
    def store(self) -> Any:
        return self.app[appkeys.STORE]

    async def user(self, verified: bool = True) -> tuple[uuid.UUID, str]:
        return await create_verified_user(self.pool, self.settings, self.app[appkeys.JWT_KEY], verified=verified)

    async def admin(self) -> tuple[uuid.UUID, str]:
        user_id, token = await self.user()
        async with self.pool.acquire() as conn:
            login = await conn.fetchval("SELECT username FROM users WHERE id = $1", user_id)
            await set_admin(conn, login, True, Actor(None, "test"))
        return user_id, token

    @staticmethod
    def auth(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, method: str, path: str, token: str | None = None, json: Any = None) -> tuple[int, Any]:
        resp = await self.client.request(method, path, json=json, headers=self.auth(token))
        body = await resp.json() if resp.content_type == "application/json" else await resp.read()
        return resp.status, body

    async def upload(self, token: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """init, PUT, complete: the post id (processing)."""
        body = {"filename": "p", "content_type": content_type, "file_size": len(data), "file_hash": sha256(data)}
        status, grant = await self.call("POST", "/api/v1/posts/upload/init", token, body)
        assert status == 201, grant
        status, text = await put_presigned(grant, data)
        assert status in (200, 201, 204), text
        status, done = await self.call("POST", "/api/v1/posts/upload/complete", token, {
            "post_id": grant["post_id"], "upload_token": grant["upload_token"],
            "file_hash": sha256(data), "file_size": len(data)})
        assert status == 200, done
        return grant["post_id"]

    async def settled(self, token: str, post_ids: list[str], timeout: float = 120.0) -> dict[str, dict]:
        """Each post as its owner sees it, once none is processing."""
        deadline = time.monotonic() + timeout
        while True:
            posts = {}
            for post_id in post_ids:
                status, body = await self.call("GET", f"/api/v1/posts/{post_id}", token)
                assert status == 200, body
                posts[post_id] = body
            if all(p["status"] in SETTLED for p in posts.values()):
                return posts
            assert time.monotonic() < deadline, {k: v["status"] for k, v in posts.items()}
            await asyncio.sleep(0.2)

    async def publish(self, token: str, data: bytes, content_type: str = "image/jpeg") -> dict:
        post_id = await self.upload(token, data, content_type)
        return (await self.settled(token, [post_id]))[post_id]

    async def fetch(self, url: str, token: str | None = None) -> int:
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers=self.auth(token)) as resp:
                await resp.read()
                return resp.status

    def stored(self, post_id: str) -> list[str]:
        """Object keys of a post (local store): source and renditions, on either side."""
        root = self.settings.data_dir / "objects"
        return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                      if p.is_file() and post_id in str(p) and not p.name.startswith("."))  # .meta: the store's own

    @property
    def pipeline(self) -> Any:
        return self.app[appkeys.PIPELINE]

    async def count(self, table: str, where: str = "true", *args: Any) -> int:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args)


async def start_mod_api(aiohttp_server: Any, aiohttp_client: Any, settings: Settings, pool: asyncpg.Pool,
                        **overrides: Any) -> ModApi:
    port = free_port()
    settings = settings.with_overrides(public_base_url=f"http://127.0.0.1:{port}", poll_interval_s=0.3, **overrides)
    app = create_app(settings, pool=pool, pipeline=True)
    server = await aiohttp_server(app, port=port)
    client = await aiohttp_client(server)
    return ModApi(client=client, app=app, pool=pool, settings=settings)


@pytest.fixture
async def mod(settings, db_pool, aiohttp_server, aiohttp_client) -> ModApi:  # type: ignore[no-untyped-def]
    """Import into a test module. db_pool is set up first so it is torn down last, after the app
    and its pipeline have stopped. Three reporters hide a post; five reports an hour per account."""
    return await start_mod_api(aiohttp_server, aiohttp_client, settings, db_pool, report_hide_threshold=3,
                               reports_per_hour=5)
