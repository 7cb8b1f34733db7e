"""Test helper for uploads and posts: the real app on a real listening port (so presigned local
upload URLs resolve), in local or S3 mode, with a verified user and small request shortcuts."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from helpers_auth import create_verified_user
from serverproc import free_port
from server import appkeys
from server.app import create_app
from server.config import Settings

COUNTED_TABLES = ("posts", "post_metadata", "upload_sessions", "jobs", "post_images")


@dataclass
class PostsApi:
    client: Any  # aiohttp TestClient
    app: Any
    pool: asyncpg.Pool
    settings: Settings
    user_id: uuid.UUID
    token: str

    @property
    def store(self) -> Any:
        return self.app[appkeys.STORE]

    async def new_user(self, verified: bool = True) -> tuple[uuid.UUID, str]:
        return await create_verified_user(self.pool, self.settings, self.app[appkeys.JWT_KEY], verified=verified)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def init(self, body: dict[str, Any], token: str | None = None) -> aiohttp.ClientResponse:
        return await self.client.post("/api/v1/posts/upload/init", json=body, headers=self.auth(token))

    async def complete(self, body: dict[str, Any], token: str | None = None) -> aiohttp.ClientResponse:
        return await self.client.post("/api/v1/posts/upload/complete", json=body, headers=self.auth(token))

    async def counts(self) -> dict[str, int]:
        async with self.pool.acquire() as conn:
            return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in COUNTED_TABLES}

    async def started(self, data: bytes, *, declare_hash: bool = True, content_type: str = "image/jpeg",
                      token: str | None = None) -> dict[str, Any]:
        """init for ``data``; returns the 201 body (asserting it)."""
        body = {"filename": "photo.jpg", "content_type": content_type, "file_size": len(data), "caption": "hi"}
        if declare_hash:
            body["file_hash"] = sha256(data)
        resp = await self.init(body, token)
        assert resp.status == 201, await resp.text()
        return await resp.json()

    async def uploaded(self, data: bytes, **kwargs: Any) -> dict[str, Any]:
        """init, then PUT ``data`` to the presigned URL as a plain HTTP client would."""
        grant = await self.started(data, **kwargs)
        status, text = await put_presigned(grant, data)
        assert status in (200, 201, 204), text
        return grant

    def complete_body(self, grant: dict[str, Any], data: bytes) -> dict[str, Any]:
        return {"post_id": grant["post_id"], "upload_token": grant["upload_token"],
                "file_hash": sha256(data), "file_size": len(data)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def put_presigned(grant: dict[str, Any], data: bytes) -> tuple[int, str]:
    """A separate HTTP client, nothing shared with the app: what a phone does."""
    assert grant["upload_method"] == "PUT"
    async with aiohttp.ClientSession() as session:
        async with session.put(grant["presigned_url"], data=data, headers=grant["upload_headers"]) as resp:
            return resp.status, await resp.text()


async def start_posts_api(
    aiohttp_server: Any, aiohttp_client: Any, settings: Settings, pool: asyncpg.Pool,
    s3_overrides: dict[str, str] | None = None, **overrides: Any,
) -> PostsApi:
    """The app listening on a real port whose URL is ``public_base_url`` (local upload URLs point
    there), S3 mode if ``s3_overrides`` is given; pipeline off so jobs stay queued for inspection."""
    port = free_port()
    settings = settings.with_overrides(public_base_url=f"http://127.0.0.1:{port}", **(s3_overrides or {}),
                                       **overrides)
    app = create_app(settings, pool=pool, pipeline=False)
    server = await aiohttp_server(app, port=port)
    client = await aiohttp_client(server)
    user_id, token = await create_verified_user(pool, settings, app[appkeys.JWT_KEY])
    return PostsApi(client=client, app=app, pool=pool, settings=settings, user_id=user_id, token=token)


@pytest.fixture(params=["local", "s3"])
async def api(request, aiohttp_server, aiohttp_client, settings, db_pool) -> PostsApi:
    """Import into a test module to run its tests once per store backend."""
    s3 = request.getfixturevalue("s3_bucket").settings_overrides() if request.param == "s3" else None
    return await start_posts_api(aiohttp_server, aiohttp_client, settings, db_pool, s3_overrides=s3)


@pytest.fixture
async def local_api(aiohttp_server, aiohttp_client, settings, db_pool) -> PostsApi:
    return await start_posts_api(aiohttp_server, aiohttp_client, settings, db_pool)


def small_jpeg(side: int = 300, colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A real JPEG of a few KB, for tests where the photo's content does not matter."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "JPEG", quality=80)
    return out.getvalue()
