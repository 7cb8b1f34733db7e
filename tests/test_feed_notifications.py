"""Notifications through HTTP on a real database: one test per rule (each fails without it), the
list with its cursor, unread_only and unread_count, and marking read."""

from __future__ import annotations

from typing import Any

from helpers_feed import publish
from helpers_social import Account, KNOWN_PASSWORD, SocialApi, social  # noqa: F401  (fixture)

NOTES = "/api/v1/notifications"


async def notes(social: SocialApi, who: Account, query: str = "") -> list[dict[str, Any]]:
    body = await social.ok("GET", f"{NOTES}?limit=100{query}", who)
    return body["items"]


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(n["kind"], n["actor"]["id"] if n["actor"] else None) for n in items]


async def test_follow_like_and_comment_notify_the_other_account_once(social: SocialApi) -> None:
    owner, fan = await social.account(), await social.account()
    post = await publish(social, owner)
    await social.ok("PUT", f"/api/v1/users/{owner.id}/follow", fan)
    await social.ok("PUT", f"/api/v1/posts/{post}/like", fan)
    comment = await social.ok("POST", f"/api/v1/posts/{post}/comments", fan, {"body": "lovely"}, status=201)

    items = await notes(social, owner)
    assert kinds(items) == [("comment", str(fan.id)), ("like", str(fan.id)), ("follow", str(fan.id)),
                            ("post_published", None)]
    comment_note, like_note = items[0], items[1]
    assert (comment_note["post_id"], comment_note["comment_id"]) == (str(post), comment["id"])
    assert like_note["post_id"] == str(post) and "comment_id" not in like_note
    assert like_note["actor"] == {"id": str(fan.id), "username": fan.username, "display_name": None}
    assert all(n["read"] is False and n["created_at"].endswith("Z") for n in items)
    assert await notes(social, fan) == []


async def test_no_notification_for_ones_own_actions(social: SocialApi) -> None:
    owner = await social.account()
    post = await publish(social, owner)
    await social.ok("PUT", f"/api/v1/posts/{post}/like", owner)
    await social.ok("POST", f"/api/v1/posts/{post}/comments", owner, {"body": "my own"}, status=201)
    assert kinds(await notes(social, owner)) == [("post_published", None)]


async def test_like_unlike_like_within_a_day_is_one_notification(social: SocialApi) -> None:
    owner, fan = await social.account(), await social.account()
    post = await publish(social, owner)
    like = f"/api/v1/posts/{post}/like"
    for _ in range(3):
        await social.ok("PUT", like, fan)
        await social.ok("DELETE", like, fan)
    await social.ok("PUT", like, fan)
    assert kinds(await notes(social, owner, "&unread_only=true")).count(("like", str(fan.id))) == 1
    # A day later the same like is news again.
    await social.scalar("UPDATE notifications SET created_at = now() - interval '25 hours' WHERE kind = 'like'")
    await social.ok("DELETE", like, fan)
    await social.ok("PUT", like, fan)
    assert kinds(await notes(social, owner)).count(("like", str(fan.id))) == 2


async def test_follow_unfollow_follow_within_a_day_is_one_notification(social: SocialApi) -> None:
    star, fan = await social.account(), await social.account()
    follow = f"/api/v1/users/{star.id}/follow"
    for _ in range(3):
        await social.ok("PUT", follow, fan)
        await social.ok("DELETE", follow, fan)
    await social.ok("PUT", follow, fan)
    assert kinds(await notes(social, star)) == [("follow", str(fan.id))]


async def test_a_block_removes_what_each_was_told_about_the_other(social: SocialApi) -> None:
    alice, bob, carol = [await social.account() for _ in range(3)]
    a_post, b_post = await publish(social, alice), await publish(social, bob)
    await social.ok("PUT", f"/api/v1/users/{alice.id}/follow", bob)
    await social.ok("PUT", f"/api/v1/posts/{a_post}/like", bob)
    await social.ok("PUT", f"/api/v1/posts/{b_post}/like", alice)
    await social.ok("PUT", f"/api/v1/posts/{a_post}/like", carol)
    assert (await social.ok("GET", NOTES, alice))["unread_count"] == 4  # follow, 2 likes, published

    await social.ok("PUT", f"/api/v1/users/{bob.id}/block", alice)
    assert kinds(await notes(social, alice)) == [("like", str(carol.id)), ("post_published", None)]
    assert kinds(await notes(social, bob)) == [("post_published", None)]
    assert (await social.ok("GET", NOTES, alice))["unread_count"] == 2
    await social.ok("DELETE", f"/api/v1/users/{bob.id}/block", alice)  # lifting it brings nothing back
    assert kinds(await notes(social, bob)) == [("post_published", None)]


async def test_deleted_comments_posts_and_accounts_take_their_notifications(social: SocialApi) -> None:
    owner, fan, other = [await social.account() for _ in range(3)]
    kept, doomed = await publish(social, owner), await publish(social, owner)
    first = await social.ok("POST", f"/api/v1/posts/{kept}/comments", fan, {"body": "one"}, status=201)
    await social.ok("POST", f"/api/v1/posts/{kept}/comments", fan, {"body": "two"}, status=201)
    await social.ok("PUT", f"/api/v1/posts/{doomed}/like", fan)
    await social.ok("POST", f"/api/v1/posts/{doomed}/comments", fan, {"body": "three"}, status=201)
    await social.ok("PUT", f"/api/v1/posts/{kept}/like", other)

    await social.ok("DELETE", f"/api/v1/comments/{first['id']}", fan, status=204)
    items = await notes(social, owner)
    assert first["id"] not in [n.get("comment_id") for n in items]
    assert len([n for n in items if n["kind"] == "comment"]) == 2

    await social.ok("DELETE", f"/api/v1/posts/{doomed}", owner, status=204)
    assert str(doomed) not in {n.get("post_id") for n in await notes(social, owner)}

    await social.ok("DELETE", "/api/v1/users/me", fan, {"password": KNOWN_PASSWORD}, status=204)
    assert [(n["kind"], n["post_id"]) for n in await notes(social, owner)] == [
        ("like", str(kept)), ("post_published", str(kept))]


async def test_the_owner_hears_when_a_post_publishes_or_fails_once_a_day(social: SocialApi) -> None:
    owner = await social.account()
    ok = await publish(social, owner)
    bad = await social.post(owner, status="processing")
    await social.scalar("UPDATE posts SET status = 'failed', error = 'image_too_small' WHERE id = $1", bad)
    await social.scalar("UPDATE posts SET status = 'processing' WHERE id = $1", bad)  # retried...
    await social.scalar("UPDATE posts SET status = 'failed' WHERE id = $1", bad)  # ...and failed again
    items = await notes(social, owner)
    assert [(n["kind"], n["post_id"], n["actor"]) for n in items] == [
        ("post_failed", str(bad), None), ("post_published", str(ok), None)]


async def test_list_pages_newest_first_and_marks_read(social: SocialApi) -> None:
    owner = await social.account()
    fans = [await social.account() for _ in range(5)]
    post = await publish(social, owner)
    for fan in fans:
        await social.ok("PUT", f"/api/v1/posts/{post}/like", fan)
    everything = [n["id"] for n in await notes(social, owner)]
    assert len(everything) == 6  # 5 likes and the post's publication
    assert await social.page_all(NOTES, owner, limit=2) == everything

    body = await social.ok("POST", f"{NOTES}/read", owner, {"up_to": everything[2]})
    assert body == {"marked": 4, "unread_count": 2}
    assert [n["id"] for n in await notes(social, owner, "&unread_only=true")] == everything[:2]
    page1 = await social.ok("GET", f"{NOTES}?unread_only=true&limit=1", owner)
    page2 = await social.ok("GET", f"{NOTES}?unread_only=true&limit=1&cursor={page1['next_cursor']}", owner)
    assert [page1["items"][0]["id"], page2["items"][0]["id"], page2["next_cursor"]] == [*everything[:2], None]
    body = await social.ok("POST", f"{NOTES}/read", owner, {"ids": [everything[0], everything[0], everything[5]]})
    assert body == {"marked": 1, "unread_count": 1}
    assert [(n["id"], n["read"]) for n in (await notes(social, owner))[:2]] == [
        (everything[0], True), (everything[1], False)]


async def test_others_notifications_cannot_be_read_or_marked(social: SocialApi) -> None:
    owner, stranger = await social.account(), await social.account()
    await publish(social, owner)
    theirs = (await notes(social, owner))[0]["id"]
    assert await social.error("POST", f"{NOTES}/read", stranger, {"up_to": theirs}) == (404, "notification_not_found")
    assert await social.ok("POST", f"{NOTES}/read", stranger, {"ids": [theirs]}) == {"marked": 0, "unread_count": 0}
    assert (await notes(social, owner))[0]["read"] is False


async def test_bad_notification_requests_change_nothing(social: SocialApi) -> None:
    owner = await social.account()
    await publish(social, owner)
    before = await social.scalar("SELECT count(*) FILTER (WHERE read_at IS NULL) FROM notifications")
    read = f"{NOTES}/read"
    for body in ({}, {"up_to": "1", "ids": ["1"]}, {"ids": []}, {"ids": ["x"]}, {"up_to": -1},
                 {"ids": ["1"] * 101}, {"up_to": True}, {"up_to": "1", "extra": 1}):
        assert await social.error("POST", read, owner, body) == (400, "invalid_read_request"), body
    assert await social.error("POST", read) == (401, "unauthorized")
    assert await social.error("GET", f"{NOTES}?cursor=abc", owner) == (400, "invalid_cursor")
    assert await social.error("GET", f"{NOTES}?unread_only=maybe", owner) == (400, "invalid_unread_only")
    assert await social.error("GET", f"{NOTES}?limit=500", owner) == (400, "invalid_limit")
    assert await social.scalar("SELECT count(*) FILTER (WHERE read_at IS NULL) FROM notifications") == before
