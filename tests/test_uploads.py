"""Upload init -> PUT -> complete through real HTTP, on the local store and on S3 (moto server).

The PUT is made by a separate plain HTTP client to the presigned URL, as a phone would; the app
listens on a real port so local-mode URLs resolve. Pipeline off: jobs stay queued for inspection.
"""

from __future__ import annotations

import asyncio

import pytest

from conftest import corpus_file
from helpers_posts import PostsApi, api  # noqa: F401  (fixture)
from server.posts import chores, expire_upload_sessions


@pytest.fixture(scope="module")
def photo() -> bytes:
    return corpus_file("phone-3264x2448.jpg").read_bytes()


async def _job_rows(api: PostsApi, post_id: str) -> list:
    async with api.pool.acquire() as conn:
        return await conn.fetch("SELECT id, status, kind FROM jobs WHERE post_id = $1::uuid", post_id)


async def test_phone_photo_reaches_processing_with_one_job(api: PostsApi, photo: bytes) -> None:
    grant = await api.uploaded(photo)
    assert grant["upload_method"] == "PUT" and grant["expires_in"] == api.settings.upload_session_ttl_s
    assert len(grant["upload_token"]) >= 32

    resp = await api.complete(api.complete_body(grant, photo))
    assert resp.status == 200, await resp.text()
    first = await resp.json()
    jobs = await _job_rows(api, grant["post_id"])
    source = f"uploads/{api.user_id}/{grant['post_id']}/source"
    assert first == {"post_id": grant["post_id"], "status": "processing", "job_id": jobs[0]["id"],
                     "message": "upload complete; the photo is being processed", "image_key": source}
    assert "presigned_url" in grant["instructions"]  # compatibility fields of the seed's clients
    assert [(j["status"], j["kind"]) for j in jobs] == [("queued", "transcode")]

    again = await api.complete(api.complete_body(grant, photo))  # a retry after a lost answer
    assert again.status == 200 and await again.json() == first
    assert len(await _job_rows(api, grant["post_id"])) == 1

    post = await (await api.client.get(f"/api/v1/posts/{grant['post_id']}")).json()
    assert (post["status"], post["caption"], post["user_id"]) == ("processing", "hi", str(api.user_id))
    async with api.pool.acquire() as conn:
        token_hash = await conn.fetchval("SELECT token_hash FROM upload_sessions")
    assert grant["upload_token"].encode() not in bytes(token_hash)  # only its hash is stored


async def test_two_concurrent_completes_queue_one_job(api: PostsApi, photo: bytes) -> None:
    grant = await api.uploaded(photo)
    body = api.complete_body(grant, photo)
    a, b = await asyncio.gather(api.complete(body), api.complete(body))
    assert (a.status, b.status) == (200, 200)
    assert await a.json() == await b.json()
    assert len(await _job_rows(api, grant["post_id"])) == 1


async def test_expired_session_is_410_then_swept(api: PostsApi, photo: bytes) -> None:
    grant = await api.uploaded(photo)
    key = f"uploads/{api.user_id}/{grant['post_id']}/source"
    assert await api.store.head(key) is not None
    async with api.pool.acquire() as conn:
        await conn.execute("UPDATE upload_sessions SET expires_at = now() - interval '1 second'")
    before = await api.counts()
    resp = await api.complete(api.complete_body(grant, photo))
    assert resp.status == 410 and (await resp.json())["error"]["code"] == "upload_expired"
    assert await api.counts() == before

    assert await expire_upload_sessions(api.pool, api.store) == 1
    assert await api.store.head(key) is None  # the late bytes are gone
    post = await (await api.client.get(f"/api/v1/posts/{grant['post_id']}")).json()
    assert post["status"] == "failed" and post["error"]["code"] == "upload_expired"
    assert await expire_upload_sessions(api.pool, api.store) == 0  # done once, never rescanned
    resp = await api.complete(api.complete_body(grant, photo))
    assert resp.status == 410
    assert await api.counts() == before


async def test_unexpired_and_completed_sessions_are_not_swept(api: PostsApi, photo: bytes) -> None:
    done = await api.uploaded(photo)
    assert (await api.complete(api.complete_body(done, photo))).status == 200
    waiting = await api.started(photo)
    async with api.pool.acquire() as conn:  # the completed one is past expiry too: still untouched
        await conn.execute("UPDATE upload_sessions SET expires_at = now() - interval '1 second'"
                           " WHERE post_id = $1::uuid", done["post_id"])
    assert [await chore() for chore in chores(api.pool, api.store)] == [0, 0]  # what the reaper runs
    async with api.pool.acquire() as conn:
        statuses = dict(await conn.fetch("SELECT id::text, status::text FROM posts"))
    assert statuses == {done["post_id"]: "processing", waiting["post_id"]: "pending_upload"}


async def test_phone_heif_is_accepted_as_heic(api: PostsApi) -> None:
    data = corpus_file("phone-4608x1976.heif").read_bytes()
    grant = await api.uploaded(data, content_type="image/heif")
    resp = await api.complete(api.complete_body(grant, data))
    assert resp.status == 200, await resp.text()
    async with api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT content_type FROM posts") == "image/heic"  # what the bytes say
