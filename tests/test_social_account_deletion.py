"""Deleting one's account through HTTP on a real database: it vanishes at once from every answer,
every counter it touched is right afterwards, its posts' objects are purged in the background, its
sessions end, and its email and username are free for a new sign-up."""

from __future__ import annotations

import asyncio

from helpers_auth import KNOWN_PASSWORD, verification_token
from helpers_social import Account, SocialApi, fresh_rate_window, social  # noqa: F401  (fixture)
from server import appkeys
from server.posts.views import BACKGROUND


async def _login(social: SocialApi, login: str, password: str = KNOWN_PASSWORD) -> tuple[int, dict]:
    return await social.call("POST", "/api/v1/auth/login", json={"login": login, "password": password})


async def _object_keys(social: SocialApi, owner: Account, post_id) -> list[str]:
    store = social.client.app[appkeys.STORE]
    keys = [f"uploads/{owner.id}/{post_id}/source", f"posts/{post_id}/thumbnail.jpg", f"posts/{post_id}/medium.jpg"]
    for key in keys:
        await store.put(key, b"\xff\xd8\xff bytes", "image/jpeg")
    return keys


async def test_deletion_removes_everything_and_keeps_every_counter_right(social: SocialApi, data_dir) -> None:
    doomed = await social.account("doomed_one")
    alice, bob = await social.account(), await social.account()
    status, tokens = await _login(social, "doomed_one")
    assert status == 200
    # Doomed's own posts (one published, one still uploading) with objects in the store...
    own_posts = [await social.post(doomed), await social.post(doomed, status="pending_upload")]
    keys = [k for p in own_posts for k in await _object_keys(social, doomed, p)]
    kept_keys = await _object_keys(social, alice, alice_post := await social.post(alice))
    # ... and everything doomed did to others, and others did to doomed.
    bob_post = await social.post(bob)
    for post in (alice_post, bob_post):
        await social.ok("PUT", f"/api/v1/posts/{post}/like", doomed)
        await social.ok("POST", f"/api/v1/posts/{post}/comments", doomed, {"body": "bye"}, 201)
        await social.ok("POST", f"/api/v1/posts/{post}/views", doomed, status=204)
    await social.ok("PUT", f"/api/v1/posts/{own_posts[0]}/like", alice)
    await social.ok("POST", f"/api/v1/posts/{own_posts[0]}/comments", alice, {"body": "nice"}, 201)
    await social.ok("PUT", f"/api/v1/users/{alice.id}/follow", doomed)
    await social.ok("PUT", f"/api/v1/users/{doomed.id}/follow", alice)
    await social.ok("PUT", f"/api/v1/users/{doomed.id}/follow", bob)
    await social.ok("PUT", f"/api/v1/users/{bob.id}/block", doomed)
    await social.ok("PATCH", "/api/v1/users/me", alice, {"bio": "still here"})
    assert (await social.ok("GET", f"/api/v1/users/{alice.id}"))["followers_count"] == 1
    assert await social.broken_counters() == []

    await social.ok("DELETE", "/api/v1/users/me", doomed, {"password": KNOWN_PASSWORD}, status=204)
    await asyncio.gather(*social.client.app[BACKGROUND])  # the purge it started

    assert await social.broken_counters() == []
    alice_now = await social.ok("GET", f"/api/v1/users/{alice.id}", bob)
    assert (alice_now["followers_count"], alice_now["following_count"]) == (0, 0)
    assert (await social.ok("GET", f"/api/v1/users/{bob.id}", alice))["following_count"] == 0
    for post in (alice_post, bob_post):
        shown = await social.ok("GET", f"/api/v1/posts/{post}")
        assert (shown["like_count"], shown["comment_count"], shown["view_count"]) == (0, 0, 0)
        assert await social.ok("GET", f"/api/v1/posts/{post}/comments") == {"items": [], "next_cursor": None}
    # Gone from every answer.
    assert await social.error("GET", f"/api/v1/users/{doomed.id}") == (404, "user_not_found")
    assert await social.error("GET", "/api/v1/users/doomed_one") == (404, "user_not_found")
    assert await social.error("GET", f"/api/v1/users/{doomed.id}/posts") == (404, "user_not_found")
    for post in own_posts:
        assert await social.error("GET", f"/api/v1/posts/{post}") == (404, "post_not_found")
    assert await social.page_all(f"/api/v1/users/{bob.id}/followers") == []
    # Its rows are gone; its posts stay as soft-deleted tombstones, objects purged.
    for table, column in (("likes", "user_id"), ("comments", "user_id"), ("post_views", "viewer_id"),
                          ("follows", "follower_id"), ("follows", "followee_id"), ("blocks", "blocker_id"),
                          ("refresh_token_families", "user_id"), ("user_stats", "user_id")):
        assert await social.scalar(f"SELECT count(*) FROM {table} WHERE {column} = $1", doomed.id) == 0, table
    assert await social.scalar("SELECT count(*) FROM posts WHERE id = ANY($1::uuid[]) AND deleted_at IS NOT NULL"
                               " AND objects_purged_at IS NOT NULL AND user_id IS NULL", own_posts) == 2
    store = social.client.app[appkeys.STORE]
    assert [k for k in keys if await store.head(k) is not None] == []
    assert [k for k in kept_keys if await store.head(k) is None] == []
    # Its sessions and tokens no longer work.
    assert (await social.call("GET", "/api/v1/auth/me", doomed))[0] == 401
    assert (await social.call("PUT", f"/api/v1/posts/{alice_post}/like", doomed))[0] == 401
    refreshed = await social.call("POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed[0] == 401
    assert (await _login(social, "doomed_one"))[0] == 401
    # Email and username are free at once: a new person signs up with both.
    email = "doomed_one@example.org"
    again = await social.call("POST", "/api/v1/auth/register",
                              json={"email": email, "username": "doomed_one", "password": "another password 1"})
    assert again[0] == 201, again
    await social.ok("POST", "/api/v1/auth/verify-email", json={
        "token": verification_token(data_dir, email), "username": "doomed_one", "password": "another password 1"})
    assert (await _login(social, "doomed_one", "another password 1"))[0] == 200
    fresh = await social.ok("GET", "/api/v1/users/doomed_one")
    assert (fresh["posts_count"], fresh["followers_count"], fresh["following_count"]) == (0, 0, 0)


async def test_deletion_needs_the_password_and_a_refusal_changes_nothing(social: SocialApi) -> None:
    alice = await social.account()
    await social.post(alice)
    before = await social.counts()
    assert await social.error("DELETE", "/api/v1/users/me", None, {"password": KNOWN_PASSWORD}) == (401, "unauthorized")
    assert await social.error("DELETE", "/api/v1/users/me", alice, {"password": "wrong password"}) == (
        401, "invalid_credentials")
    for body in ({}, {"password": ""}, {"password": 12345}, {"password": "x" * 2000}):
        assert await social.error("DELETE", "/api/v1/users/me", alice, body) == (400, "invalid_password"), body
    assert await social.error("DELETE", f"/api/v1/users/{alice.id}", alice,
                              {"password": KNOWN_PASSWORD}) == (405, "method_not_allowed")
    assert await social.counts() == before
    assert (await social.call("GET", "/api/v1/auth/me", alice))[0] == 200


async def test_password_guesses_with_a_stolen_token_are_limited(social: SocialApi) -> None:
    alice = await social.account()
    limit = social.settings.rate_limit_account_per_min
    await fresh_rate_window()
    for _ in range(limit):
        assert await social.error("DELETE", "/api/v1/users/me", alice, {"password": "guess guess"}) == (
            401, "invalid_credentials")
    resp = await social.client.delete("/api/v1/users/me", json={"password": KNOWN_PASSWORD}, headers=alice.auth)
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert await social.scalar("SELECT count(*) FROM users WHERE id = $1", alice.id) == 1
