"""Every bad upload request gets its 4xx and changes nothing; a failed verification keeps the
session open for a corrected re-upload; backpressure answers 503 before creating anything."""

from __future__ import annotations

import asyncio

import pytest

from helpers_auth import create_verified_user
from helpers_posts import PostsApi, api, local_api, put_presigned, sha256, small_jpeg, start_posts_api  # noqa: F401
from server import appkeys
from server.posts.validation import MAX_CAPTION_CHARS

GOOD = {"filename": "IMG_1.jpg", "content_type": "image/jpeg", "file_size": 1000}


async def _error(resp) -> tuple[int, str]:
    return resp.status, (await resp.json())["error"]["code"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**GOOD, "filename": "../../etc/passwd"}, 400, "invalid_request"),
        ({**GOOD, "filename": "a\x07b.jpg"}, 400, "invalid_request"),
        ({**GOOD, "filename": ""}, 400, "invalid_request"),
        ({**GOOD, "content_type": "text/html"}, 415, "unsupported_media_type"),
        ({**GOOD, "file_size": 0}, 400, "invalid_request"),
        ({**GOOD, "file_size": "1000"}, 400, "invalid_request"),
        ({**GOOD, "file_size": 50 * 1024 * 1024 + 1}, 413, "file_too_large"),
        ({**GOOD, "file_hash": "zz"}, 400, "invalid_request"),
        ({**GOOD, "caption": "x" * (MAX_CAPTION_CHARS + 1)}, 400, "invalid_request"),
        ({k: v for k, v in GOOD.items() if k != "filename"}, 400, "invalid_request"),
    ],
)
async def test_bad_init_body(local_api: PostsApi, body: dict, status: int, code: str) -> None:
    before = await local_api.counts()
    assert await _error(await local_api.init(body)) == (status, code)
    assert await local_api.counts() == before


async def test_init_needs_a_verified_caller_and_a_json_object(local_api: PostsApi) -> None:
    before = await local_api.counts()
    client = local_api.client
    assert await _error(await client.post("/api/v1/posts/upload/init", json=GOOD)) == (401, "unauthorized")
    bad_token = {"Authorization": "Bearer not.a.jwt"}
    assert (await client.post("/api/v1/posts/upload/init", json=GOOD, headers=bad_token)).status == 401
    _, unverified = await local_api.new_user(verified=False)
    assert await _error(await local_api.init(GOOD, unverified)) == (403, "email_not_verified")
    for raw in (b"{not json", b"[1, 2]", b""):
        resp = await client.post("/api/v1/posts/upload/init", data=raw,
                                 headers={**local_api.auth(), "Content-Type": "application/json"})
        assert await _error(resp) == (400, "invalid_json")
    assert await local_api.counts() == before


async def test_bad_complete_requests(local_api: PostsApi) -> None:
    data = small_jpeg()
    grant = await local_api.uploaded(data)
    good = local_api.complete_body(grant, data)
    _, stranger = await local_api.new_user()
    before = await local_api.counts()
    cases = [
        (local_api.complete({**good, "post_id": "nope"}), (400, "invalid_id")),
        (local_api.complete({**good, "post_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12}), (404, "upload_not_found")),
        (local_api.complete({**good, "upload_token": "guess"}), (403, "invalid_upload_token")),
        (local_api.complete(good, stranger), (403, "forbidden")),
        (local_api.complete({**good, "file_size": len(data) + 1}), (422, "size_mismatch")),
        (local_api.complete({**good, "file_hash": "0" * 64}), (422, "hash_mismatch")),  # not the declared one
        (local_api.complete({k: v for k, v in good.items() if k != "file_hash"}), (400, "invalid_request")),
        (local_api.client.post("/api/v1/posts/upload/complete", json=good), (401, "unauthorized")),
    ]
    for call, expected in cases:
        assert await _error(await call) == expected
    assert await local_api.counts() == before
    resp = await local_api.complete(good)  # none of that closed the session
    assert resp.status == 200, await resp.text()


async def _post_status(api: PostsApi, post_id: str) -> str:
    async with api.pool.acquire() as conn:
        return await conn.fetchval("SELECT status::text FROM posts WHERE id = $1::uuid", post_id)


async def test_stored_object_is_verified_and_session_stays_open(api: PostsApi) -> None:
    """No hash declared at init, so the store takes any bytes; complete must catch each problem."""
    data = small_jpeg()
    grant = await api.started(data, declare_hash=False)
    key = f"uploads/{api.user_id}/{grant['post_id']}/source"
    body = api.complete_body(grant, data)
    before = await api.counts()

    assert await _error(await api.complete(body)) == (409, "upload_missing")
    await api.store.put(key, b"%PDF-1.7 " + b"x" * (len(data) - 9), "image/jpeg")
    assert await _error(await api.complete(body)) == (422, "not_an_image")
    await api.store.put(key, data + b"\x00", "image/jpeg")
    assert await _error(await api.complete(body)) == (422, "size_mismatch")
    await api.store.put(key, data[:-3] + b"\x00\x00\x00", "image/jpeg")
    assert await _error(await api.complete(body)) == (422, "hash_mismatch")
    assert await api.counts() == before
    assert await _post_status(api, grant["post_id"]) == "pending_upload"

    await api.store.put(key, data, "image/jpeg")
    resp = await api.complete(body)
    assert resp.status == 200, await resp.text()
    assert (await api.counts())["jobs"] == before["jobs"] + 1


async def test_declared_type_does_not_matter_the_bytes_do(local_api: PostsApi) -> None:
    data = small_jpeg()
    grant = await local_api.uploaded(data, content_type="image/png")
    assert (await local_api.complete(local_api.complete_body(grant, data))).status == 200
    async with local_api.pool.acquire() as conn:
        assert await conn.fetchval("SELECT content_type FROM posts") == "image/jpeg"


async def test_backlog_above_high_water_is_503_and_creates_nothing(
    aiohttp_server, aiohttp_client, settings, db_pool
) -> None:
    api = await start_posts_api(aiohttp_server, aiohttp_client, settings, db_pool, backlog_high_water=2)
    data = small_jpeg()
    for _ in range(2):
        grant = await api.uploaded(data)
        assert (await api.complete(api.complete_body(grant, data))).status == 200
    before = await api.counts()
    body = {**GOOD, "file_size": len(data), "file_hash": sha256(data)}
    resp = await api.init(body)
    assert await _error(resp) == (503, "backlog_full")
    assert int(resp.headers["Retry-After"]) > 0
    assert await api.counts() == before

    async with api.pool.acquire() as conn:  # a running job still counts; a finished one does not
        await conn.execute("UPDATE jobs SET status = 'running' WHERE id = (SELECT min(id) FROM jobs)")
        assert (await api.init(body)).status == 503
        await conn.execute("UPDATE jobs SET status = 'succeeded' WHERE id = (SELECT min(id) FROM jobs)")
    assert (await api.init(body)).status == 201


async def test_open_uploads_per_user_are_capped_and_the_cap_frees_on_complete(
    aiohttp_server, aiohttp_client, settings, db_pool
) -> None:
    """One account cannot claim unbounded storage with uploads it never completes; concurrent inits
    cannot race past the cap either."""
    api = await start_posts_api(aiohttp_server, aiohttp_client, settings, db_pool, max_open_uploads_per_user=3)
    data = small_jpeg()
    body = {**GOOD, "file_size": len(data), "file_hash": sha256(data)}
    answers = await asyncio.gather(*(api.init(body) for _ in range(6)))
    assert sorted(r.status for r in answers) == [201, 201, 201, 429, 429, 429]
    refused = next(r for r in answers if r.status == 429)
    assert await _error(refused) == (429, "too_many_open_uploads") and int(refused.headers["Retry-After"]) > 0
    assert (await api.counts())["posts"] == 3

    _, other_token = await create_verified_user(api.pool, api.settings, api.app[appkeys.JWT_KEY])
    assert (await api.init(body, token=other_token)).status == 201  # the cap is per account

    grant = await next(r for r in answers if r.status == 201).json()
    status, text = await put_presigned(grant, data)
    assert status in (200, 201, 204), text
    assert (await api.complete(api.complete_body(grant, data))).status == 200
    assert (await api.init(body)).status == 201  # a completed upload no longer counts
    assert (await api.init(body)).status == 429
