"""The home feed through HTTP on a real database: what it shows and in what order, liked_by_me,
keyset paging with posts published mid-paging (no gaps, no repeats) through both read paths
(the recent window and the per-followee merge, and the hand-over between them), history reached
behind a window full of strangers' posts, and follows, blocks, deletions and statuses taking
effect on the very next request."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpers_feed import feed_ids, follow_all, publish
from helpers_social import Account, SocialApi, social  # noqa: F401  (fixture)
from server.feed import rules

FEED = "/api/v1/feed"


async def _follow(social: SocialApi, who: Account, whom: Account) -> None:
    await social.ok("PUT", f"/api/v1/users/{whom.id}/follow", who)


async def test_feed_is_own_and_followees_published_posts_newest_first(social: SocialApi) -> None:
    me, bob, carol, stranger = [await social.account() for _ in range(4)]
    await _follow(social, me, bob)
    await _follow(social, me, carol)
    old = await publish(social, bob, datetime.now(timezone.utc) - timedelta(days=400))
    mine = await publish(social, me)
    b1 = await publish(social, bob)
    await publish(social, stranger)  # not followed
    await social.post(bob, status="processing")  # not published: not in anyone's feed
    await social.post(bob, status="failed")
    c1 = await publish(social, carol)
    await social.ok("PUT", f"/api/v1/posts/{b1}/like", me)

    body = await social.ok("GET", FEED, me)
    assert [i["id"] for i in body["items"]] == [str(c1), str(b1), str(mine), str(old)]
    assert body["next_cursor"] is None
    first = {i["id"]: i for i in body["items"]}
    assert [first[str(p)]["liked_by_me"] for p in (c1, b1, mine)] == [False, True, False]
    assert first[str(b1)]["like_count"] == 1
    assert first[str(b1)]["user"] == {"id": str(bob.id), "username": bob.username, "display_name": None}
    assert first[str(b1)]["status"] == "published" and first[str(b1)]["published_at"].endswith("Z")
    assert await feed_ids(social, stranger) == [str(p) for p in await _published_by(social, stranger)]


async def _published_by(social: SocialApi, who: Account) -> list[uuid.UUID]:
    async with social.pool.acquire() as conn:
        return [r["id"] for r in await conn.fetch(
            "SELECT id FROM posts WHERE user_id = $1 AND status = 'published' ORDER BY published_at DESC", who.id)]


@pytest.mark.parametrize("followees,window", [(40, rules.WINDOW_POSTS), (3, rules.WINDOW_POSTS), (40, 7)],
                         ids=["window", "merge", "window-then-merge"])
async def test_paging_has_no_gaps_or_repeats_while_posts_publish(
        social: SocialApi, monkeypatch: pytest.MonkeyPatch, followees: int, window: int) -> None:
    """Three ways a page is read: the recent window alone (40 followees), the per-followee merge
    alone (3 followees), and a window too small for a page, so every page hands over to the merge."""
    monkeypatch.setattr(rules, "WINDOW_POSTS", window)
    me = await social.account()
    authors = [await social.account() for _ in range(followees)]
    await follow_all(social, me, authors)
    strangers = [await social.account() for _ in range(3)]
    expected: list[uuid.UUID] = []
    for n in range(15):
        expected.append(await publish(social, authors[n % len(authors)]))
        await publish(social, strangers[n % 3])  # noise the window must skip
    expected.reverse()

    arrived: list[uuid.UUID] = []

    async def publish_meanwhile(page: int) -> None:
        arrived.append(await publish(social, authors[page % len(authors)]))
        await publish(social, strangers[page % 3])

    seen = await social.page_all(FEED, me, limit=2, between_pages=publish_meanwhile)
    assert seen == [str(p) for p in expected], "every post once, in order, none of those published meanwhile"
    fresh = await feed_ids(social, me, limit=100)
    assert fresh == [str(p) for p in reversed(arrived)] + [str(p) for p in expected]


async def test_history_behind_a_window_of_strangers_posts_is_still_reached(
        social: SocialApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """A viewer whose followees stopped posting long ago, with the window full of strangers' newer
    posts: the merge below the window reaches them (a window-only read would answer empty)."""
    monkeypatch.setattr(rules, "WINDOW_POSTS", 10)
    monkeypatch.setattr(rules, "MERGE_ONLY_BELOW", 1)  # take the window path even with few followees
    me, quiet = await social.account(), await social.account()
    await _follow(social, me, quiet)
    long_ago = datetime.now(timezone.utc) - timedelta(days=300)
    theirs = [await publish(social, quiet, long_ago + timedelta(hours=h)) for h in range(3)]
    busy = await social.account()
    for _ in range(25):
        await publish(social, busy)
    assert await feed_ids(social, me) == [str(p) for p in reversed(theirs)]


async def test_follow_unfollow_block_delete_and_status_take_effect_on_the_next_request(social: SocialApi) -> None:
    me, bob, carol = [await social.account() for _ in range(3)]
    b_old = await publish(social, bob, datetime.now(timezone.utc) - timedelta(days=30))
    b_new = await publish(social, bob)
    c1 = await publish(social, carol)
    assert await feed_ids(social, me) == []

    await _follow(social, me, bob)  # a new follow shows that account's posts, old ones too
    await _follow(social, me, carol)
    assert await feed_ids(social, me) == [str(c1), str(b_new), str(b_old)]

    await social.ok("DELETE", f"/api/v1/users/{bob.id}/follow", me)
    assert await feed_ids(social, me) == [str(c1)]
    await _follow(social, me, bob)
    assert await feed_ids(social, me) == [str(c1), str(b_new), str(b_old)]

    await social.ok("DELETE", f"/api/v1/posts/{b_new}", bob, status=204)
    assert await feed_ids(social, me) == [str(c1), str(b_old)]

    await social.scalar("UPDATE posts SET status = 'failed' WHERE id = $1", b_old)  # no longer public
    assert await feed_ids(social, me) == [str(c1)]

    await social.ok("PUT", f"/api/v1/users/{me.id}/block", carol)  # blocked by the followee
    assert await feed_ids(social, me) == []
    assert await feed_ids(social, carol) == [str(c1)]


async def test_feed_refuses_bad_requests(social: SocialApi) -> None:
    me = await social.account()
    assert await social.error("GET", FEED) == (401, "unauthorized")
    assert await social.error("GET", f"{FEED}?limit=0", me) == (400, "invalid_limit")
    assert await social.error("GET", f"{FEED}?limit=101", me) == (400, "invalid_limit")
    assert await social.error("GET", f"{FEED}?cursor=nope", me) == (400, "invalid_cursor")
