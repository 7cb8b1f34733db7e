"""The pipeline processes exactly the bytes upload/complete verified: uploads are create-only (a PUT
still in flight when complete ran, or any later PUT, cannot replace them), and the pipeline checks
the bytes it fetched against the verified SHA-256 anyway."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import aiohttp

from helpers_posts import PostsApi, api, local_api, put_presigned, small_jpeg  # noqa: F401 - fixtures
from test_pipeline import config, make_pipeline
from test_pipeline_hooks import wait_until

A = small_jpeg(colour=(200, 30, 30))
B = small_jpeg(colour=(30, 200, 30))


def other_bytes_of_the_same_size(data: bytes) -> bytes:
    """What a second PUT on the same signed URL could carry: the signed size, other content."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 64]) + data[middle + 64:]


async def _complete(api: PostsApi, grant: dict, data: bytes) -> None:
    resp = await api.complete(api.complete_body(grant, data))
    assert resp.status == 200, await resp.text()


async def test_a_put_after_complete_cannot_replace_the_verified_bytes(api: PostsApi) -> None:
    grant = await api.uploaded(A, declare_hash=False)
    await _complete(api, grant, A)
    status, text = await put_presigned(grant, other_bytes_of_the_same_size(A))
    # S3 refuses the create-only PUT (412); the local store already refuses a completed upload's URL.
    assert status == (412 if api.settings.storage == "s3" else 409), (status, text)
    key = f"uploads/{api.user_id}/{grant['post_id']}/source"
    assert await api.store.get(key) == A


async def test_a_put_in_flight_when_complete_runs_is_refused(local_api: PostsApi) -> None:
    """The PUT passed every check at its start (its session was still open); it ends after complete
    verified the first bytes, and must not replace them."""
    same_size = other_bytes_of_the_same_size(A)
    grant = await local_api.uploaded(A, declare_hash=False)
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield same_size[:100]
        await release.wait()
        yield same_size[100:]

    async def late_put() -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            headers = {**grant["upload_headers"], "Content-Length": str(len(same_size))}
            async with session.put(grant["presigned_url"], data=slow_body(), headers=headers) as resp:
                return resp.status, await resp.text()

    put = asyncio.create_task(late_put())
    await asyncio.sleep(0.5)  # the server has read the headers and checked the session
    await _complete(local_api, grant, A)
    release.set()
    status, text = await put
    assert (status, "already_uploaded" in text) == (412, True), (status, text)
    assert await local_api.store.get(f"uploads/{local_api.user_id}/{grant['post_id']}/source") == A


async def test_bytes_changed_behind_the_stores_back_fail_the_post_instead_of_publishing(local_api: PostsApi) -> None:
    grant = await local_api.uploaded(A, declare_hash=False)
    await _complete(local_api, grant, A)
    # A store without create-only writes, or someone with bucket access, swaps the bytes.
    await local_api.store.put(f"uploads/{local_api.user_id}/{grant['post_id']}/source", B, "image/jpeg")
    pipeline = make_pipeline(local_api.pool, local_api.store, config(workers=1))
    await pipeline.start()

    async def settled() -> str | None:
        async with local_api.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT status::text AS s, error FROM posts WHERE id = $1::uuid", grant["post_id"])
        return row["error"] if row["s"] == "failed" else None

    try:
        assert await wait_until(settled, 60) == "source_changed"
    finally:
        await pipeline.close()
