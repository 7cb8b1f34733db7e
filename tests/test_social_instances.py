"""Two real ``serve`` processes on one PostgreSQL: 50 accounts like one post at once, then 25 unlike
while 25 others like, requests spread over both instances; ``like_count`` equals the rows after
each round, as seen from either instance."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import asyncpg

from helpers_auth import create_verified_user
from serverproc import ServerProcess, free_port, server_env
from server.config import load_settings

SECRET = "s" * 40  # instances behind one load balancer share the signing key


async def _post(pool: asyncpg.Pool, owner: uuid.UUID) -> uuid.UUID:
    post_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO posts (id, user_id, status, source_key, content_type, file_size)"
            " VALUES ($1, $2, 'published', $3, 'image/jpeg', 1000)", post_id, owner, f"uploads/{owner}/{post_id}/source")
        await conn.execute("INSERT INTO post_metadata (post_id) VALUES ($1)", post_id)
    return post_id


async def _rows_and_count(pool: asyncpg.Pool, post_id: uuid.UUID) -> tuple[int, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM likes WHERE post_id = $1", post_id)
        stored = await conn.fetchval("SELECT like_count FROM post_metadata WHERE post_id = $1", post_id)
    return rows, stored


async def test_fifty_likers_on_two_instances_keep_like_count_exact(tmp_path: Path, db_dsn: str, db_pool) -> None:
    env = server_env(IMAGEPIPE_DATABASE_URL=db_dsn, IMAGEPIPE_JWT_SECRET=SECRET, IMAGEPIPE_WORKERS="1")
    settings = load_settings(cli={"bcrypt_rounds": 4}, environ={})
    a = ServerProcess(tmp_path / "a", free_port(), env).start(wait_ready=0)
    b = ServerProcess(tmp_path / "b", free_port(), env).start(wait_ready=0)
    with a, b:
        a.wait_ready(90)
        b.wait_ready(90)
        owner, _ = await create_verified_user(db_pool, settings, SECRET)
        post = await _post(db_pool, owner)
        accounts = [await create_verified_user(db_pool, settings, SECRET) for _ in range(75)]
        first, others = accounts[:50], accounts[50:]
        bases = (a.base_url, b.base_url)

        async with aiohttp.ClientSession() as http:
            async def send(method: str, i: int, token: str) -> dict:
                url = f"{bases[i % 2]}/api/v1/posts/{post}/like"
                async with http.request(method, url, headers={"Authorization": f"Bearer {token}"}) as resp:
                    assert resp.status == 200, await resp.text()
                    return await resp.json()

            answers = await asyncio.gather(*(send("PUT", i, tok) for i, (_, tok) in enumerate(first)))
            assert sorted(x["like_count"] for x in answers) == list(range(1, 51))  # each saw its own like
            assert await _rows_and_count(db_pool, post) == (50, 50)

            await asyncio.gather(*(send("DELETE", i, tok) for i, (_, tok) in enumerate(first[:25])),
                                 *(send("PUT", i, tok) for i, (_, tok) in enumerate(others)))
            assert await _rows_and_count(db_pool, post) == (50, 50)
            for base in bases:
                async with http.get(f"{base}/api/v1/posts/{post}") as resp:
                    assert (await resp.json())["like_count"] == 50
        assert a.terminate() == 0 and b.terminate() == 0
