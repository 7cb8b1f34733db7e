"""Fair use of storage and of upload/init: per-account quota, uploads per minute, and deleting a
pending upload gives its slot back. Through the real app on real PostgreSQL (local store)."""

from __future__ import annotations

import uuid

import pytest

from helpers_posts import PostsApi, local_api, sha256, small_jpeg  # noqa: F401 (fixture)
from server.posts.quota import over_quota

INIT = "/api/v1/posts/upload/init"


def init_body(size: int) -> dict:
    return {"filename": "p.jpg", "content_type": "image/jpeg", "file_size": size}


async def error_of(resp) -> tuple[int, str]:
    return resp.status, (await resp.json())["error"]["code"]


def test_quota_arithmetic() -> None:
    assert not over_quota(90, 10, 100)
    assert over_quota(91, 10, 100)


class TestQuota:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(user_quota_bytes=100_000)

    async def test_past_the_quota_init_is_413_and_deleting_gives_the_bytes_back(self, local_api: PostsApi) -> None:
        data = small_jpeg()
        grant = await local_api.uploaded(data)
        assert (await local_api.complete(local_api.complete_body(grant, data))).status == 200
        # What the publisher writes for the post: its variants count too.
        async with local_api.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO post_images (post_id, variant, format, storage_key, width, height, bytes)"
                " VALUES ($1, 'original', 'jpeg', 'k', 1, 1, 40000)", uuid.UUID(grant["post_id"]))
        room = 100_000 - len(data) - 40_000
        before = await local_api.counts()
        assert await error_of(await local_api.init(init_body(room + 1))) == (413, "quota_exceeded")
        assert await local_api.counts() == before, "a refused init creates nothing"
        resp = await local_api.init(init_body(room + 1))
        body = await resp.json()
        assert body["error"]["details"]["used_bytes"] == len(data) + 40_000
        pending = await local_api.init(init_body(room))
        assert pending.status == 201, "exactly full is allowed"
        assert await error_of(await local_api.init(init_body(1))) == (413, "quota_exceeded"), \
            "a pending upload reserves its declared size"
        deleted = await local_api.client.delete(f"/api/v1/posts/{grant['post_id']}", headers=local_api.auth())
        assert deleted.status == 204
        assert (await local_api.init(init_body(len(data) + 40_000))).status == 201, "the deleted post's bytes are back"

    async def test_one_accounts_quota_is_its_own(self, local_api: PostsApi) -> None:
        assert (await local_api.init(init_body(100_000))).status == 201
        _, other = await local_api.new_user()
        assert (await local_api.init(init_body(100_000), other)).status == 201


class TestUploadsPerMinute:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(uploads_per_user_per_min=3)

    async def test_the_fourth_init_in_a_minute_is_429_with_retry_after(self, local_api: PostsApi) -> None:
        for _ in range(3):
            assert (await local_api.init(init_body(1000))).status == 201
        before = await local_api.counts()
        resp = await local_api.init(init_body(1000))
        assert await error_of(resp) == (429, "rate_limited")
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        assert await local_api.counts() == before
        _, other = await local_api.new_user()
        assert (await local_api.init(init_body(1000), other)).status == 201, "other accounts are not slowed"


class TestOpenUploadSlots:
    @pytest.fixture
    def settings(self, settings):
        return settings.with_overrides(max_open_uploads_per_user=2)

    async def test_deleting_a_pending_upload_frees_its_slot(self, local_api: PostsApi) -> None:
        """It did not: the deleted post's session kept counting until it expired."""
        first = await (await local_api.init(init_body(1000))).json()
        assert (await local_api.init(init_body(1000))).status == 201
        assert await error_of(await local_api.init(init_body(1000))) == (429, "too_many_open_uploads")
        resp = await local_api.client.delete(f"/api/v1/posts/{first['post_id']}", headers=local_api.auth())
        assert resp.status == 204
        assert (await local_api.init(init_body(1000))).status == 201
        assert await error_of(await local_api.init(init_body(1000))) == (429, "too_many_open_uploads")
