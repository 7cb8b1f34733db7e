"""Test helper for the social area: the real app on a fresh database, accounts with tokens, posts
arranged with SQL, request shortcuts, and the counter invariants checked against the rows."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from helpers_auth import KNOWN_PASSWORD, create_verified_user
from server import appkeys
from server.config import Settings

# Every table a social refusal must leave alone.
COUNTED_TABLES = ("users", "user_stats", "follows", "blocks", "likes", "comments", "post_views", "posts",
                  "post_metadata")

INSERT_POST = """
INSERT INTO posts (id, user_id, caption, status, source_key, content_type, file_size, created_at)
VALUES ($1, $2, 'cap', $3, $4, 'image/jpeg', 1000, coalesce($5, now()))
"""

# Each row: a counter that disagrees with the rows it counts. Empty means every counter is exact.
INVARIANTS = """
SELECT 'like_count' AS counter, m.post_id AS id, m.like_count AS stored,
       (SELECT count(*) FROM likes l WHERE l.post_id = m.post_id) AS actual FROM post_metadata m
UNION ALL
SELECT 'comment_count', m.post_id, m.comment_count,
       (SELECT count(*) FROM comments c WHERE c.post_id = m.post_id) FROM post_metadata m
UNION ALL
SELECT 'view_count', m.post_id, m.view_count,
       (SELECT coalesce(sum(v.views), 0) FROM post_views v WHERE v.post_id = m.post_id) FROM post_metadata m
UNION ALL
SELECT 'followers_count', s.user_id, s.followers_count,
       (SELECT count(*) FROM follows f WHERE f.followee_id = s.user_id) FROM user_stats s
UNION ALL
SELECT 'following_count', s.user_id, s.following_count,
       (SELECT count(*) FROM follows f WHERE f.follower_id = s.user_id) FROM user_stats s
UNION ALL
SELECT 'posts_count', s.user_id, s.posts_count,
       (SELECT count(*) FROM posts p WHERE p.user_id = s.user_id AND p.status = 'published'
                                         AND p.deleted_at IS NULL) FROM user_stats s
"""


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    token: str
    username: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class SocialApi:
    client: Any  # aiohttp TestClient
    pool: asyncpg.Pool
    settings: Settings

    async def account(self, username: str | None = None, verified: bool = True) -> Account:
        username = username or f"u_{uuid.uuid4().hex[:12]}"
        user_id, token = await create_verified_user(
            self.pool, self.settings, self.client.app[appkeys.JWT_KEY], username=username, verified=verified)
        return Account(user_id, token, username)

    async def post(self, owner: Account, status: str = "published", created_at: Any = None) -> uuid.UUID:
        """A post row (and its counters row) as the pipeline would leave it, arranged with SQL."""
        post_id = uuid.uuid4()
        async with self.pool.acquire() as conn:
            await conn.execute(INSERT_POST, post_id, owner.id, status, f"uploads/{owner.id}/{post_id}/source",
                               created_at)
            await conn.execute("INSERT INTO post_metadata (post_id) VALUES ($1)", post_id)
        return post_id

    async def call(self, method: str, path: str, who: Account | None = None, json: Any = None,
                   **kwargs: Any) -> tuple[int, Any]:
        headers = who.auth if who else {}
        resp = await self.client.request(method, path, headers=headers, json=json, **kwargs)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body

    async def ok(self, method: str, path: str, who: Account | None = None, json: Any = None,
                 status: int = 200) -> Any:
        got, body = await self.call(method, path, who, json)
        assert got == status, f"{method} {path}: {got} {body}"
        return body

    async def error(self, method: str, path: str, who: Account | None = None, json: Any = None,
                    **kwargs: Any) -> tuple[int, str]:
        got, body = await self.call(method, path, who, json, **kwargs)
        assert isinstance(body, dict) and "error" in body, f"{method} {path}: {got} {body}"
        return got, body["error"]["code"]

    async def counts(self) -> dict[str, int]:
        async with self.pool.acquire() as conn:
            return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in COUNTED_TABLES}

    async def broken_counters(self) -> list[tuple[str, str, int, int]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT * FROM ({INVARIANTS}) x WHERE stored <> actual")
        return [(r["counter"], str(r["id"]), r["stored"], r["actual"]) for r in rows]

    async def scalar(self, sql: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def page_all(self, path: str, who: Account | None = None, limit: int = 2,
                       between_pages: Any = None) -> list[str]:
        """Every item id of a list, page by page; ``between_pages(n)`` runs after page n."""
        seen: list[str] = []
        cursor = None
        for n in range(10_000):
            query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            body = await self.ok("GET", path + query, who)
            assert len(body["items"]) <= limit
            seen.extend(item["id"] for item in body["items"])
            cursor = body["next_cursor"]
            if between_pages is not None:
                await between_pages(n)
            if cursor is None:
                return seen
        raise AssertionError("paging never ended")


async def fresh_rate_window(needed_s: float = 15.0) -> None:
    """Rate limits count in fixed one-minute windows: a test that fills one must not straddle two,
    or its last call lands in a fresh window and is let through. Wait for a new window if the
    current one has less than ``needed_s`` left."""
    left = 60 - time.time() % 60
    if left < needed_s:
        await asyncio.sleep(left + 0.05)


@pytest.fixture
async def social(client, db_pool, settings) -> SocialApi:
    return SocialApi(client=client, pool=db_pool, settings=settings)


__all__ = ["Account", "KNOWN_PASSWORD", "SocialApi", "fresh_rate_window", "social"]
