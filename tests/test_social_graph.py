"""Profiles, follows and blocks through HTTP on a real database: idempotence, exact counters, lists
paged while edges change, a block hiding both sides, and every refusal changing nothing."""

from __future__ import annotations

import asyncio
import uuid

from helpers_social import Account, SocialApi, social  # noqa: F401  (fixture)


def users(path: str) -> str:
    return f"/api/v1/users/{path}"


async def test_profile_by_id_username_and_me(social: SocialApi) -> None:
    alice = await social.account("alice_p")
    bob = await social.account()
    await social.post(alice)
    await social.post(alice, status="processing")  # not published: not counted
    deleted = await social.post(alice)
    await social.scalar("UPDATE posts SET deleted_at = now() WHERE id = $1", deleted)

    anonymous = await social.ok("GET", users("alice_p"))
    assert anonymous == {
        "id": str(alice.id), "username": "alice_p", "display_name": None, "bio": None, "posts_count": 1,
        "followers_count": 0, "following_count": 0, "created_at": anonymous["created_at"],
    }
    assert anonymous["created_at"].endswith("Z") and "+00:00" not in anonymous["created_at"]
    assert await social.ok("GET", users("ALICE_P")) == anonymous  # usernames are case-insensitive
    by_id = await social.ok("GET", users(str(alice.id)), bob)
    assert (by_id["followed_by_me"], by_id["blocked_by_me"]) == (False, False)
    assert (await social.ok("GET", users("me"), alice))["id"] == str(alice.id)

    for path, status, code in (("me", 401, "unauthorized"), ("x", 400, "invalid_user"),
                               ("not-a-uuid-nor-name", 400, "invalid_user"), ("nobody_here", 404, "user_not_found"),
                               (str(uuid.uuid4()), 404, "user_not_found")):
        assert await social.error("GET", users(path)) == (status, code)
    resp = await social.client.get(users("alice_p"), headers={"Authorization": "Bearer junk"})
    assert resp.status == 401  # a bad token is refused, not treated as anonymous


async def test_follow_is_idempotent_and_counts_are_exact(social: SocialApi) -> None:
    alice, bob, carol = [a async for a in _accounts(social, 3)]
    path = users(f"{bob.username}/follow")
    assert await social.ok("PUT", path, alice) == {"following": True, "followers_count": 1}
    assert await social.ok("PUT", path, alice) == {"following": True, "followers_count": 1}  # repeat
    assert await social.ok("PUT", users(f"{bob.id}/follow"), carol) == {"following": True, "followers_count": 2}
    profile = await social.ok("GET", users(bob.username), alice)
    assert (profile["followers_count"], profile["followed_by_me"]) == (2, True)
    assert (await social.ok("GET", users("me"), alice))["following_count"] == 1
    assert await social.ok("DELETE", path, alice) == {"following": False, "followers_count": 1}
    assert await social.ok("DELETE", path, alice) == {"following": False, "followers_count": 1}  # repeat
    assert await social.broken_counters() == []


async def _accounts(social: SocialApi, n: int):
    for _ in range(n):
        yield await social.account()


async def test_bad_graph_requests_change_nothing(social: SocialApi) -> None:
    alice, bob = [a async for a in _accounts(social, 2)]
    unverified = await social.account(verified=False)
    await social.ok("PUT", users(f"{bob.id}/follow"), alice)
    before = await social.counts()
    cases = [
        ("PUT", users(f"{alice.id}/follow"), alice, (400, "cannot_follow_self")),
        ("PUT", users("me/follow"), alice, (400, "cannot_follow_self")),
        ("PUT", users(f"{alice.id}/block"), alice, (400, "cannot_block_self")),
        ("PUT", users("bad!name/follow"), alice, (400, "invalid_user")),
        ("PUT", users(f"{uuid.uuid4()}/follow"), alice, (404, "user_not_found")),
        ("PUT", users("no_such_user/block"), alice, (404, "user_not_found")),
        ("PUT", users(f"{bob.id}/follow"), None, (401, "unauthorized")),
        ("PUT", users(f"{bob.id}/follow"), unverified, (403, "email_not_verified")),
        ("DELETE", users(f"{bob.id}/block"), None, (401, "unauthorized")),
        ("GET", users(f"{bob.id}/followers?limit=0"), None, (400, "invalid_limit")),
        ("GET", users(f"{bob.id}/followers?limit=abc"), None, (400, "invalid_limit")),
        ("GET", users(f"{bob.id}/following?cursor=nonsense"), None, (400, "invalid_cursor")),
        ("GET", users(f"{uuid.uuid4()}/followers"), None, (404, "user_not_found")),
        ("GET", users("me/blocks"), None, (401, "unauthorized")),
    ]
    for method, path, who, expected in cases:
        assert await social.error(method, path, who) == expected, (method, path)
    assert await social.counts() == before


async def test_follower_lists_page_without_gaps_or_repeats_while_edges_change(social: SocialApi) -> None:
    star = await social.account()
    fans = [a async for a in _accounts(social, 9)]
    for fan in fans:
        await social.ok("PUT", users(f"{star.id}/follow"), fan)
    late = [a async for a in _accounts(social, 4)]
    gone = fans[4]

    async def mid_paging(page: int) -> None:
        if page == 0:  # follows arrive and one leaves while the client is on page 1
            for fan in late:
                await social.ok("PUT", users(f"{star.id}/follow"), fan)
        if page == 1:
            await social.ok("DELETE", users(f"{star.id}/follow"), gone)

    seen = await social.page_all(users(f"{star.id}/followers"), limit=2, between_pages=mid_paging)
    assert len(seen) == len(set(seen)), "no repeats"
    newest_first = [str(f.id) for f in reversed(fans)]
    # Every follower of the start, in order, but the one who left before the client got to him: no
    # gaps. The later follows sort before the cursor, so they do not shift pages (no repeats).
    assert seen == [i for i in newest_first if i != str(gone.id)]
    now = await social.page_all(users(f"{star.id}/followers"), limit=3)
    assert now == [str(f.id) for f in reversed(late)] + [i for i in newest_first if i != str(gone.id)]
    following = await social.page_all(users(f"{late[0].id}/following"), limit=1)
    assert following == [str(star.id)]
    assert await social.broken_counters() == []


async def test_a_block_hides_both_sides_and_removes_both_follows(social: SocialApi) -> None:
    alice, bob, carol = [a async for a in _accounts(social, 3)]
    await social.ok("PUT", users(f"{bob.id}/follow"), alice)
    await social.ok("PUT", users(f"{alice.id}/follow"), bob)
    await social.ok("PUT", users(f"{alice.id}/follow"), carol)
    alice_post = await social.post(alice)
    bob_post = await social.post(bob)
    bob_comment = await social.ok("POST", f"/api/v1/posts/{alice_post}/comments", bob, {"body": "hi alice"}, 201)
    await social.ok("PUT", f"/api/v1/posts/{alice_post}/like", bob)

    assert await social.ok("PUT", users(f"{bob.username}/block"), alice) == {"blocked": True}
    assert await social.ok("PUT", users(f"{bob.username}/block"), alice) == {"blocked": True}  # repeat
    assert await social.scalar("SELECT count(*) FROM follows WHERE $1 IN (follower_id, followee_id)", bob.id) == 0
    assert await social.broken_counters() == []

    for viewer, other, other_post in ((bob, alice, alice_post), (alice, bob, bob_post)):
        assert await social.error("GET", users(str(other.id)), viewer) == (404, "user_not_found")
        assert await social.error("GET", users(other.username), viewer) == (404, "user_not_found")
        assert await social.error("GET", users(f"{other.id}/followers"), viewer) == (404, "user_not_found")
        assert await social.error("GET", f"/api/v1/posts/{other_post}", viewer) == (404, "post_not_found")
        assert await social.error("GET", f"/api/v1/users/{other.id}/posts", viewer) == (404, "user_not_found")
        assert await social.error("PUT", users(f"{other.id}/follow"), viewer) == (404, "user_not_found")
        assert await social.error("PUT", f"/api/v1/posts/{other_post}/like", viewer) == (404, "post_not_found")
        assert await social.error("POST", f"/api/v1/posts/{other_post}/comments", viewer,
                                  {"body": "x"}) == (404, "post_not_found")
        assert await social.error("POST", f"/api/v1/posts/{other_post}/views", viewer) == (404, "post_not_found")
    # Bob's comment and like stay on Alice's post for everyone else, but Alice no longer sees them.
    comments_for = {who: await social.page_all(f"/api/v1/posts/{alice_post}/comments", who) for who in (alice, carol)}
    assert comments_for == {alice: [], carol: [bob_comment["id"]]}
    assert await social.page_all(f"/api/v1/posts/{alice_post}/likes", alice) == []
    assert await social.page_all(f"/api/v1/posts/{alice_post}/likes", carol) == [str(bob.id)]
    # Followers lists hide the other side too (Carol follows Alice; Bob is gone from Alice's view).
    assert await social.page_all(users(f"{carol.id}/following"), alice) == [str(alice.id)]
    # Anonymous readers and third parties are unaffected.
    assert (await social.ok("GET", users(str(bob.id)), carol))["id"] == str(bob.id)
    assert (await social.ok("GET", f"/api/v1/posts/{bob_post}"))["id"] == str(bob_post)
    # The owner may still remove the blocked account's comment from her post.
    await social.ok("DELETE", f"/api/v1/comments/{bob_comment['id']}", alice, status=204)
    # The blocker finds whom she blocks, and unblocking restores visibility but not the follows.
    assert await social.page_all(users("me/blocks"), alice) == [str(bob.id)]
    assert await social.page_all(users("me/blocks"), bob) == []
    assert await social.ok("DELETE", users(f"{bob.id}/block"), alice) == {"blocked": False}
    assert (await social.ok("GET", users(str(alice.id)), bob))["followed_by_me"] is False
    assert await social.broken_counters() == []


async def test_blocks_stay_private_to_the_blocked_side(social: SocialApi) -> None:
    alice, bob = [a async for a in _accounts(social, 2)]
    await social.ok("PUT", users(f"{bob.id}/block"), alice)
    # To Bob, Alice is simply absent: blocking or unblocking her answers as for a missing account,
    # so he cannot tell a block from a deleted account.
    assert await social.error("PUT", users(f"{alice.id}/block"), bob) == (404, "user_not_found")
    assert await social.error("DELETE", users(f"{alice.id}/block"), bob) == (404, "user_not_found")
    assert await social.scalar("SELECT count(*) FROM blocks") == 1
    # Alice manages her own block; once she lifts it, the same holds the other way round.
    assert await social.ok("PUT", users(f"{bob.id}/block"), alice) == {"blocked": True}
    assert await social.ok("DELETE", users(f"{bob.id}/block"), alice) == {"blocked": False}
    assert await social.ok("PUT", users(f"{alice.id}/block"), bob) == {"blocked": True}
    assert await social.error("PUT", users(f"{bob.id}/block"), alice) == (404, "user_not_found")
    assert await social.scalar("SELECT count(*) FROM blocks WHERE blocker_id = $1", bob.id) == 1
    assert await social.scalar("SELECT count(*) FROM blocks") == 1


async def test_a_follow_racing_a_block_never_survives_it(social: SocialApi) -> None:
    for _ in range(10):
        alice, bob = [a async for a in _accounts(social, 2)]
        follow, block = await asyncio.gather(
            social.call("PUT", users(f"{alice.id}/follow"), bob),
            social.call("PUT", users(f"{bob.id}/block"), alice),
        )
        assert block[0] == 200 and follow[0] in (200, 404)
        assert await social.scalar("SELECT count(*) FROM follows WHERE follower_id = $1", bob.id) == 0
    assert await social.broken_counters() == []


async def test_profile_edit(social: SocialApi) -> None:
    alice = await social.account()
    body = await social.ok("PATCH", users("me"), alice, {"display_name": "  Alice <b>A</b>  ",
                                                           "bio": "line one\nline two 👩‍💻"})
    assert (body["display_name"], body["bio"]) == ("Alice <b>A</b>", "line one\nline two 👩‍💻")
    assert (await social.ok("PATCH", users("me"), alice, {"bio": None}))["display_name"] == "Alice <b>A</b>"
    assert (await social.ok("GET", users(alice.username)))["bio"] is None
    before = await social.counts()
    for patch, code in (({"display_name": "x" * 51}, "invalid_display_name"),
                        ({"display_name": "a\nb"}, "invalid_display_name"),
                        ({"display_name": 7}, "invalid_display_name"),
                        ({"bio": "y" * 301}, "invalid_bio"), ({"bio": "bell\x07"}, "invalid_bio"),
                        ({"bio": "\ud800"}, "invalid_json"), ({"username": "evil"}, "unknown_field")):
        assert await social.error("PATCH", users("me"), alice, patch) == (400, code), patch
    assert await social.error("PATCH", users("me"), None, {"bio": "x"}) == (401, "unauthorized")
    assert await social.counts() == before
    assert (await social.ok("GET", users(alice.username)))["display_name"] == "Alice <b>A</b>"
