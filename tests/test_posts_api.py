"""Reading, listing and deleting posts through HTTP on a real database (rows arranged with SQL)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from helpers_posts import PostsApi, api, local_api  # noqa: F401  (fixtures)
from server.posts import purge_deleted_posts
from server.posts.views import BACKGROUND

INSERT_POST = """
INSERT INTO posts (id, user_id, caption, status, source_key, content_type, file_size, width, height,
                   metadata, created_at, error, error_message)
VALUES ($1, $2, $3, $4, $5, 'image/jpeg', 1000, $6, $7, $8, $9, $10, $11)
"""


async def _insert_post(api: PostsApi, *, status: str = "published", user_id: uuid.UUID | None = None,
                       created_at=None, error: str | None = None, metadata: dict | None = None) -> uuid.UUID:
    post_id = uuid.uuid4()
    user_id = user_id or api.user_id
    async with api.pool.acquire() as conn:
        await conn.execute(
            INSERT_POST, post_id, user_id, "cap", status, f"uploads/{user_id}/{post_id}/source",
            4000 if status == "published" else None, 3000 if status == "published" else None,
            metadata or {}, created_at or await conn.fetchval("SELECT now()"), error, None,
        )
        await conn.execute("INSERT INTO post_metadata (post_id, like_count) VALUES ($1, 7)", post_id)
        if status == "published":
            for variant, side in (("thumbnail", 150), ("medium", 600), ("original", 4000)):
                await conn.execute(
                    "INSERT INTO post_images (post_id, variant, format, storage_key, width, height, bytes)"
                    " VALUES ($1, $2, 'jpeg', $3, $4, $5, $6)",
                    post_id, variant, f"posts/{post_id}/{variant}.jpg", side, side * 3 // 4, side * 10,
                )
    return post_id


async def test_get_published_post(local_api: PostsApi) -> None:
    post_id = await _insert_post(local_api, metadata={"placeholder": "LKO2?U%2Tw=w", "dominant_color": "#102030"})
    resp = await local_api.client.get(f"/api/v1/posts/{post_id}")  # no token: public
    assert resp.status == 200
    body = await resp.json()
    base = local_api.settings.effective_cdn_base_url
    assert body["variants"]["medium"] == {
        "url": f"{base}/posts/{post_id}/medium.jpg", "width": 600, "height": 450, "bytes": 6000, "format": "jpeg"}
    assert body["thumbnail_url"] == f"{base}/posts/{post_id}/thumbnail.jpg"
    assert body["original_url"] == local_api.store.public_url(f"posts/{post_id}/original.jpg")
    assert (body["id"], body["status"], body["width"], body["height"]) == (str(post_id), "published", 4000, 3000)
    assert (body["like_count"], body["comment_count"], body["view_count"]) == (7, 0, 0)
    assert (body["placeholder"], body["dominant_color"]) == ("LKO2?U%2Tw=w", "#102030")
    assert body["created_at"] and "error" not in body


async def test_get_failed_post_and_bad_ids(local_api: PostsApi) -> None:
    failed = await _insert_post(local_api, status="failed", error="image_too_small")
    body = await (await local_api.client.get(f"/api/v1/posts/{failed}")).json()
    assert body["status"] == "failed" and body["error"]["code"] == "image_too_small"
    assert body["variants"]["original"] is None and body["original_url"] is None
    for raw, status, code in (("nope", 400, "invalid_id"), ("1234", 400, "invalid_id"),
                              (str(uuid.uuid4()), 404, "post_not_found")):
        resp = await local_api.client.get(f"/api/v1/posts/{raw}")
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code)


async def _page_through(api: PostsApi, user_id: uuid.UUID, limit: int, token: str | None = None,
                        between_pages=None) -> list[str]:
    seen: list[str] = []
    cursor = None
    headers = api.auth(token) if token else {}
    for page in range(1000):
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        resp = await api.client.get(f"/api/v1/users/{user_id}/posts", params=params, headers=headers)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert len(body["items"]) <= limit
        seen.extend(item["id"] for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        if between_pages and page == 0:
            await between_pages()
    raise AssertionError("pagination did not end")


async def test_pages_through_250_posts_without_gaps_or_repeats(local_api: PostsApi) -> None:
    statuses = ["published", "published", "processing", "failed", "pending_upload"]
    async with local_api.pool.acquire() as conn:
        # Groups of 4 posts share one created_at: only the id tie-break keeps their order stable.
        await conn.execute(
            """
            INSERT INTO posts (id, user_id, status, source_key, content_type, file_size, created_at)
            SELECT gen_random_uuid(), $1, ($2::post_status[])[1 + i % 5], 'k', 'image/jpeg', 1,
                   timestamptz '2026-01-01' + (i / 4) * interval '1 second'
            FROM generate_series(0, 249) AS i
            """,
            local_api.user_id, statuses,
        )
        everything = [str(r["id"]) for r in await conn.fetch(
            "SELECT id FROM posts ORDER BY created_at DESC, id DESC")]
        published = [str(r["id"]) for r in await conn.fetch(
            "SELECT id FROM posts WHERE status = 'published' ORDER BY created_at DESC, id DESC")]
    assert len(everything) == 250 and len(published) == 100

    async def newer_posts_arrive() -> None:  # must not shift or repeat later pages
        for _ in range(3):
            await _insert_post(local_api)

    owner_view = await _page_through(local_api, local_api.user_id, 7, local_api.token, newer_posts_arrive)
    assert owner_view == everything
    public_view = await _page_through(local_api, local_api.user_id, 100)
    assert public_view[3:] == published  # 3 newer posts arrived meanwhile, all published
    _, stranger = await local_api.new_user()
    assert await _page_through(local_api, local_api.user_id, 20, stranger) == public_view


async def test_list_defaults_and_bad_parameters(local_api: PostsApi) -> None:
    for _ in range(3):
        await _insert_post(local_api)
    resp = await local_api.client.get(f"/api/v1/users/{local_api.user_id}/posts")
    body = await resp.json()
    assert len(body["items"]) == 3 and body["next_cursor"] is None
    assert body["items"][0]["variants"]["thumbnail"]["url"].endswith("/thumbnail.jpg")
    url = f"/api/v1/users/{local_api.user_id}/posts"
    cases = [
        (url + "?limit=0", 400, "invalid_limit"), (url + "?limit=101", 400, "invalid_limit"),
        (url + "?limit=%C2%B2", 400, "invalid_limit"),
        (url + "?cursor=bogus", 400, "invalid_cursor"), ("/api/v1/users/xyz/posts", 400, "invalid_id"),
        (f"/api/v1/users/{uuid.uuid4()}/posts", 404, "user_not_found"),
    ]
    for path, status, code in cases:
        resp = await local_api.client.get(path)
        assert (resp.status, (await resp.json())["error"]["code"]) == (status, code)
    resp = await local_api.client.get(url, headers={"Authorization": "Bearer junk"})
    assert resp.status == 401  # a bad token is an error, not a silent anonymous view


async def _store_post_objects(api: PostsApi, post_id: uuid.UUID) -> list[str]:
    keys = [f"uploads/{api.user_id}/{post_id}/source", f"posts/{post_id}/thumbnail.jpg",
            f"posts/{post_id}/medium.webp"]
    for key in keys:
        await api.store.put(key, b"\xff\xd8\xff bytes", "image/jpeg")
    return keys


async def test_owner_deletes_post_and_objects_go(api: PostsApi) -> None:
    post_id = await _insert_post(api)
    keys = await _store_post_objects(api, post_id)
    kept = await _insert_post(api)
    kept_keys = await _store_post_objects(api, kept)
    async with api.pool.acquire() as conn:
        await conn.execute("INSERT INTO jobs (post_id) VALUES ($1)", post_id)
    _, stranger = await api.new_user()
    path = f"/api/v1/posts/{post_id}"
    assert (await api.client.delete(path)).status == 401
    resp = await api.client.delete(path, headers=api.auth(stranger))
    assert (resp.status, (await resp.json())["error"]["code"]) == (403, "forbidden")
    assert (await api.client.delete("/api/v1/posts/nope", headers=api.auth())).status == 400

    assert (await api.client.delete(path, headers=api.auth())).status == 204
    await asyncio.gather(*api.app[BACKGROUND])
    assert (await api.client.get(path)).status == 404
    assert (await api.client.delete(path, headers=api.auth())).status == 404
    listed = await (await api.client.get(f"/api/v1/users/{api.user_id}/posts")).json()
    assert [item["id"] for item in listed["items"]] == [str(kept)]
    for key in keys:
        assert await api.store.head(key) is None, key
    for key in kept_keys:
        assert await api.store.head(key) is not None, key
    async with api.pool.acquire() as conn:
        job = await conn.fetchrow("SELECT status::text, last_error_code FROM jobs")
        purged = await conn.fetchval("SELECT objects_purged_at IS NOT NULL FROM posts WHERE id = $1", post_id)
        images = await conn.fetchval("SELECT count(*) FROM post_images WHERE post_id = $1", post_id)
    assert tuple(job) == ("failed", "post_deleted") and purged and images == 0
    assert await purge_deleted_posts(api.pool, api.store) == 0


async def test_purge_waits_for_a_running_job(local_api: PostsApi) -> None:
    post_id = await _insert_post(local_api)
    keys = await _store_post_objects(local_api, post_id)
    async with local_api.pool.acquire() as conn:
        await conn.execute("INSERT INTO jobs (post_id, status) VALUES ($1, 'running')", post_id)
    assert (await local_api.client.delete(f"/api/v1/posts/{post_id}", headers=local_api.auth())).status == 204
    await asyncio.gather(*local_api.app[BACKGROUND])
    assert all([await local_api.store.head(k) is not None for k in keys])  # publisher may still write
    async with local_api.pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET status = 'succeeded'")
    assert await purge_deleted_posts(local_api.pool, local_api.store) == 1
    assert all([await local_api.store.head(k) is None for k in keys])
