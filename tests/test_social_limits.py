"""Per-account limits on follows, likes and comments: 429 with Retry-After past the limit, nothing
written by the refused call, and one account's limit never touching another's."""

from __future__ import annotations

import pytest

from helpers_social import SocialApi, fresh_rate_window
from server.app import create_app
from server.auth import ratelimit


@pytest.fixture
async def tight(aiohttp_client, settings, db_pool) -> SocialApi:
    settings = settings.with_overrides(rate_limit_follows_per_min=2, rate_limit_likes_per_min=3,
                                       rate_limit_comments_per_min=2)
    client = await aiohttp_client(create_app(settings, pool=db_pool, pipeline=False))
    return SocialApi(client=client, pool=db_pool, settings=settings)


async def _limited(api: SocialApi, method: str, path: str, who, body=None) -> None:
    before = await api.counts()
    resp = await api.client.request(method, path, json=body, headers=who.auth)
    assert resp.status == 429, await resp.text()
    assert (await resp.json())["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert await api.counts() == before


async def test_follows_are_limited_per_account(tight: SocialApi) -> None:
    bot, other = await tight.account(), await tight.account()
    await fresh_rate_window()
    targets = [await tight.account() for _ in range(3)]
    await tight.ok("PUT", f"/api/v1/users/{targets[0].id}/follow", bot)
    await tight.ok("DELETE", f"/api/v1/users/{targets[0].id}/follow", bot)  # unfollow counts too
    await _limited(tight, "PUT", f"/api/v1/users/{targets[1].id}/follow", bot)
    await tight.ok("PUT", f"/api/v1/users/{targets[1].id}/follow", other)  # another account is not affected


async def test_likes_and_comments_are_limited_per_account(tight: SocialApi) -> None:
    owner, bot, other = await tight.account(), await tight.account(), await tight.account()
    posts = [await tight.post(owner) for _ in range(4)]
    await fresh_rate_window()
    for post in posts[:3]:
        await tight.ok("PUT", f"/api/v1/posts/{post}/like", bot)
    await _limited(tight, "PUT", f"/api/v1/posts/{posts[3]}/like", bot)
    await tight.ok("PUT", f"/api/v1/posts/{posts[3]}/like", other)
    for _ in range(2):
        await tight.ok("POST", f"/api/v1/posts/{posts[0]}/comments", bot, {"body": "spam"}, status=201)
    await _limited(tight, "POST", f"/api/v1/posts/{posts[0]}/comments", bot, {"body": "spam"})
    assert await tight.scalar("SELECT count(*) FROM comments") == 2


async def test_a_hit_commits_without_the_flush_and_leaves_the_connection_durable(db_pool) -> None:
    """The counter's commit skips the WAL flush (it may be lost in a crash: harmless), but that
    setting lasts for its own statement only: the next write on the pooled connection is durable."""
    async with db_pool.acquire() as conn:
        await ratelimit.hit(conn, "like:acct:test", 10)
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
        assert await conn.fetchval("SELECT hits FROM rate_limit_counters WHERE bucket = 'like:acct:test'") == 1
        async with conn.transaction():
            await conn.execute("INSERT INTO rate_limit_counters VALUES ('x', now(), 1, now() + interval '1 minute')")
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
